import type { Sql } from "../sql.ts";
import type { Metadata } from "../records.ts";
import { parseJson } from "./json.ts";

export interface ProductRecord {
  id: string;
  name: string;
  description: string | null;
  metadata: Metadata;
  createdAtMs: number;
}

export type PlanInterval = "month" | "year" | "one_time";

export interface PlanCredit {
  unit: string;
  amount: number;
  rollover: boolean;
}

export interface PlanRecord {
  id: string;
  productId: string | null;
  name: string;
  priceAmount: number;
  currency: string;
  interval: PlanInterval;
  trialDays: number | null;
  credits: PlanCredit[];
  features: string[];
  createdAtMs: number;
}

export interface AddonRecord {
  id: string;
  productId: string | null;
  name: string;
  unit: string;
  creditQty: number;
  priceAmount: number;
  currency: string;
  expiresInDays: number | null;
  createdAtMs: number;
}

interface ProductRow { product_id: string; name: string; description: string | null; metadata: string; created_at: number }
interface PlanRow {
  plan_id: string; product_id: string | null; name: string; price_amount: number; currency: string; billing_interval: string;
  trial_days: number | null; credits: string; features: string; created_at: number;
}
interface AddonRow {
  addon_id: string; product_id: string | null; name: string; unit: string; credit_qty: number; price_amount: number; currency: string;
  expires_in_days: number | null; created_at: number;
}

const toProduct = (r: ProductRow): ProductRecord => ({
  id: r.product_id, name: r.name, description: r.description, metadata: parseJson<Metadata>(r.metadata, {}), createdAtMs: Number(r.created_at),
});
const toPlan = (r: PlanRow): PlanRecord => ({
  id: r.plan_id,
  productId: r.product_id,
  name: r.name,
  priceAmount: Number(r.price_amount),
  currency: r.currency,
  interval: r.billing_interval as PlanInterval,
  trialDays: r.trial_days === null ? null : Number(r.trial_days),
  credits: parseJson<PlanCredit[]>(r.credits, []),
  features: parseJson<string[]>(r.features, []),
  createdAtMs: Number(r.created_at),
});
const toAddon = (r: AddonRow): AddonRecord => ({
  id: r.addon_id,
  productId: r.product_id,
  name: r.name,
  unit: r.unit,
  creditQty: Number(r.credit_qty),
  priceAmount: Number(r.price_amount),
  currency: r.currency,
  expiresInDays: r.expires_in_days === null ? null : Number(r.expires_in_days),
  createdAtMs: Number(r.created_at),
});

export async function insertProduct(tx: Sql, appId: string, p: ProductRecord): Promise<void> {
  await tx.run("INSERT INTO products (app_id, product_id, name, description, metadata, created_at) VALUES (?, ?, ?, ?, ?, ?)", [
    appId, p.id, p.name, p.description, JSON.stringify(p.metadata), p.createdAtMs,
  ]);
}
export async function getProduct(q: Sql, appId: string, id: string): Promise<ProductRecord | undefined> {
  const r = await q.get<ProductRow>("SELECT * FROM products WHERE app_id = ? AND product_id = ?", [appId, id]);
  return r === undefined ? undefined : toProduct(r);
}
export async function listProducts(q: Sql, appId: string, after: string | undefined, limit: number): Promise<ProductRecord[]> {
  const rows = await q.all<ProductRow>("SELECT * FROM products WHERE app_id = ? AND product_id > ? ORDER BY product_id LIMIT ?", [appId, after ?? "", limit]);
  return rows.map(toProduct);
}

export async function insertPlan(tx: Sql, appId: string, p: PlanRecord): Promise<void> {
  await tx.run(
    "INSERT INTO plans (app_id, plan_id, product_id, name, price_amount, currency, billing_interval, trial_days, credits, features, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [appId, p.id, p.productId, p.name, p.priceAmount, p.currency, p.interval, p.trialDays, JSON.stringify(p.credits), JSON.stringify(p.features), p.createdAtMs],
  );
}
export async function getPlan(q: Sql, appId: string, id: string): Promise<PlanRecord | undefined> {
  const r = await q.get<PlanRow>("SELECT * FROM plans WHERE app_id = ? AND plan_id = ?", [appId, id]);
  return r === undefined ? undefined : toPlan(r);
}
export async function listPlans(q: Sql, appId: string, filter: { productId?: string | undefined; after?: string | undefined }, limit: number): Promise<PlanRecord[]> {
  const params: (string | number)[] = [appId, filter.after ?? ""];
  let sql = "SELECT * FROM plans WHERE app_id = ? AND plan_id > ?";
  if (filter.productId !== undefined) {
    sql += " AND product_id = ?";
    params.push(filter.productId);
  }
  params.push(limit);
  return (await q.all<PlanRow>(`${sql} ORDER BY plan_id LIMIT ?`, params)).map(toPlan);
}

export async function insertAddon(tx: Sql, appId: string, a: AddonRecord): Promise<void> {
  await tx.run(
    "INSERT INTO addons (app_id, addon_id, product_id, name, unit, credit_qty, price_amount, currency, expires_in_days, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    [appId, a.id, a.productId, a.name, a.unit, a.creditQty, a.priceAmount, a.currency, a.expiresInDays, a.createdAtMs],
  );
}
export async function getAddon(q: Sql, appId: string, id: string): Promise<AddonRecord | undefined> {
  const r = await q.get<AddonRow>("SELECT * FROM addons WHERE app_id = ? AND addon_id = ?", [appId, id]);
  return r === undefined ? undefined : toAddon(r);
}
export async function listAddons(q: Sql, appId: string, filter: { productId?: string | undefined; after?: string | undefined }, limit: number): Promise<AddonRecord[]> {
  const params: (string | number)[] = [appId, filter.after ?? ""];
  let sql = "SELECT * FROM addons WHERE app_id = ? AND addon_id > ?";
  if (filter.productId !== undefined) {
    sql += " AND product_id = ?";
    params.push(filter.productId);
  }
  params.push(limit);
  return (await q.all<AddonRow>(`${sql} ORDER BY addon_id LIMIT ?`, params)).map(toAddon);
}

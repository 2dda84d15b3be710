import type { Metadata } from "../store/records.ts";
import type { Scope } from "./context.ts";
import { inTransaction } from "./context.ts";
import { newId } from "./ids.ts";
import { notFound, validationError } from "./errors.ts";
import * as repo from "../store/repo/catalog.ts";

export type { AddonRecord, PlanRecord, ProductRecord, PlanCredit, PlanInterval } from "../store/repo/catalog.ts";

/**
 * The catalog: products group plans and add-ons. Catalog entries are immutable once created
 * (a price change is a new plan), so an order or subscription always means what it meant.
 */
export async function createProduct(scope: Scope, input: { name: string; description?: string | undefined; metadata?: Metadata | undefined }): Promise<repo.ProductRecord> {
  return inTransaction(scope, async (tx, nowMs) => {
    const product: repo.ProductRecord = { id: newId("product", nowMs), name: input.name, description: input.description ?? null, metadata: input.metadata ?? {}, createdAtMs: nowMs };
    await repo.insertProduct(tx, scope.appId, product);
    return product;
  });
}

export async function getProduct(scope: Scope, id: string): Promise<repo.ProductRecord> {
  const p = await scope.db.read((q) => repo.getProduct(q, scope.appId, id));
  if (p === undefined) throw notFound("PRODUCT_NOT_FOUND", "product", id);
  return p;
}

export async function listProducts(scope: Scope, after: string | undefined, limit: number): Promise<repo.ProductRecord[]> {
  return scope.db.read((q) => repo.listProducts(q, scope.appId, after, limit));
}

export interface PlanInput {
  productId?: string | undefined;
  name: string;
  priceAmount: number;
  currency: string;
  interval: repo.PlanInterval;
  trialDays?: number | undefined;
  credits: Array<{ unit: string; amount: number; rollover?: boolean | undefined }>;
  features: string[];
}

/**
 * @example
 * await createPlan(scope, { name: "Pro", priceAmount: 2000, currency: "usd", interval: "month",
 *   credits: [{ unit: "credits", amount: 1000 }], features: ["export"] });
 */
export async function createPlan(scope: Scope, input: PlanInput): Promise<repo.PlanRecord> {
  const units = new Set<string>();
  for (const [i, c] of input.credits.entries()) {
    if (units.has(c.unit)) throw validationError(`/credits/${i}/unit`, `unit ${c.unit} appears twice`);
    units.add(c.unit);
  }
  return inTransaction(scope, async (tx, nowMs) => {
    if (input.productId !== undefined && (await repo.getProduct(tx, scope.appId, input.productId)) === undefined) {
      throw notFound("PRODUCT_NOT_FOUND", "product", input.productId);
    }
    const plan: repo.PlanRecord = {
      id: newId("plan", nowMs),
      productId: input.productId ?? null,
      name: input.name,
      priceAmount: input.priceAmount,
      currency: input.currency.toLowerCase(),
      interval: input.interval,
      trialDays: input.trialDays ?? null,
      credits: input.credits.map((c) => ({ unit: c.unit, amount: c.amount, rollover: c.rollover ?? false })),
      features: [...new Set(input.features)],
      createdAtMs: nowMs,
    };
    await repo.insertPlan(tx, scope.appId, plan);
    return plan;
  });
}

export async function getPlan(scope: Scope, id: string): Promise<repo.PlanRecord> {
  const p = await scope.db.read((q) => repo.getPlan(q, scope.appId, id));
  if (p === undefined) throw notFound("PLAN_NOT_FOUND", "plan", id);
  return p;
}

export async function listPlans(scope: Scope, filter: { productId?: string | undefined; after?: string | undefined }, limit: number): Promise<repo.PlanRecord[]> {
  return scope.db.read((q) => repo.listPlans(q, scope.appId, filter, limit));
}

export interface AddonInput {
  productId?: string | undefined;
  name: string;
  unit: string;
  creditQty: number;
  priceAmount: number;
  currency: string;
  expiresInDays?: number | undefined;
}

export async function createAddon(scope: Scope, input: AddonInput): Promise<repo.AddonRecord> {
  return inTransaction(scope, async (tx, nowMs) => {
    if (input.productId !== undefined && (await repo.getProduct(tx, scope.appId, input.productId)) === undefined) {
      throw notFound("PRODUCT_NOT_FOUND", "product", input.productId);
    }
    const addon: repo.AddonRecord = {
      id: newId("addon", nowMs),
      productId: input.productId ?? null,
      name: input.name,
      unit: input.unit,
      creditQty: input.creditQty,
      priceAmount: input.priceAmount,
      currency: input.currency.toLowerCase(),
      expiresInDays: input.expiresInDays ?? null,
      createdAtMs: nowMs,
    };
    await repo.insertAddon(tx, scope.appId, addon);
    return addon;
  });
}

export async function getAddon(scope: Scope, id: string): Promise<repo.AddonRecord> {
  const a = await scope.db.read((q) => repo.getAddon(q, scope.appId, id));
  if (a === undefined) throw notFound("ADDON_NOT_FOUND", "add-on", id);
  return a;
}

export async function listAddons(scope: Scope, filter: { productId?: string | undefined; after?: string | undefined }, limit: number): Promise<repo.AddonRecord[]> {
  return scope.db.read((q) => repo.listAddons(q, scope.appId, filter, limit));
}

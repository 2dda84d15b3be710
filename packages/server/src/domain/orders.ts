import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { isUniqueViolation, type Sql } from "../store/sql.ts";
import type { LotRecord, TransactionRecord } from "../store/records.ts";
import type { Scope } from "./context.ts";
import { inTransaction } from "./context.ts";
import { newId } from "./ids.ts";
import { notFound, TallyError, validationError } from "./errors.ts";
import { requireAccount, type AccountRef } from "./accounts.ts";
import { clawbackWithin, grantWithin } from "./credits.ts";
import { createSubscriptionWithin } from "./subscriptions.ts";
import { clearInFlight } from "./auto-topup.ts";
import { emitEvents } from "./webhooks.ts";
import { toIso } from "./clock.ts";
import type { PaymentProvider } from "../payments/provider.ts";
import { getAddon, getPlan, listAddons, listPlans, type AddonRecord, type PlanRecord } from "../store/repo/catalog.ts";
import * as repo from "../store/repo/orders.ts";
import type { InvoiceRecord, OrderRecord } from "../store/repo/orders.ts";
import { cancelSubscriptionWithin } from "./subscriptions.ts";
import { findTransactionByKey } from "../store/repo/transactions.ts";
import { getSetting, initSetting } from "../store/repo/apps.ts";
import { getLots } from "../store/repo/lots.ts";

export type { OrderRecord, InvoiceRecord } from "../store/repo/orders.ts";

/**
 * Orders: one purchase of a plan or an add-on. Lifecycle pending → paid → refunded (or pending →
 * canceled). Fulfilment (`fulfilOrder`) is the conditional update pending → paid plus the grant
 * (or the subscription), in one transaction: however often a provider's webhook arrives, and in
 * however many processes at once, exactly one of them finds the order pending.
 */

const DAY_MS = 86_400_000;
type Ctx = { tx: Sql; appId: string; nowMs: number };

function blankOrder(nowMs: number, accountId: string, provider: string, item: { kind: "addon"; addon: AddonRecord } | { kind: "plan"; plan: PlanRecord }, key: string | null): OrderRecord {
  const base = {
    id: newId("order", nowMs), accountId, status: "pending" as const, provider, providerRef: null, paymentRef: null, checkoutUrl: null, idempotencyKey: key,
    grantId: null, subscriptionId: null, clawbackTxnId: null, createdAtMs: nowMs, paidAtMs: null, refundedAtMs: null,
  };
  return item.kind === "addon"
    ? { ...base, kind: "addon", productId: item.addon.productId, planId: null, addonId: item.addon.id, amount: item.addon.priceAmount, currency: item.addon.currency, unit: item.addon.unit, creditQty: item.addon.creditQty }
    : { ...base, kind: "plan", productId: item.plan.productId, planId: item.plan.id, addonId: null, amount: item.plan.priceAmount, currency: item.plan.currency, unit: null, creditQty: null };
}

export interface FulfilResult {
  order: OrderRecord;
  grant: LotRecord | null;
  alreadyProcessed: boolean;
}

/** pending → paid and what was bought, inside the caller's transaction. */
async function fulfilWithin(ctx: Ctx, orderId: string, refs: { providerRef?: string | null | undefined; paymentRef?: string | null | undefined }): Promise<FulfilResult> {
  const { tx, appId, nowMs } = ctx;
  const before = await repo.getOrder(tx, appId, orderId);
  if (before === undefined) throw notFound("ORDER_NOT_FOUND", "order", orderId);
  if (refs.providerRef != null && before.providerRef !== null && before.providerRef !== refs.providerRef) {
    throw validationError("/providerRef", `order ${orderId} belongs to checkout ${before.providerRef}`);
  }
  if (!(await repo.markPaidIfPending(tx, appId, orderId, nowMs, { paymentRef: refs.paymentRef ?? null, providerRef: refs.providerRef ?? null }))) {
    return { order: before, grant: null, alreadyProcessed: true };
  }
  let grant: LotRecord | null = null;
  let subscriptionId: string | null = null;
  let description = "";
  if (before.kind === "plan") {
    const plan = await getPlan(tx, appId, before.planId ?? "");
    if (plan === undefined) throw notFound("PLAN_NOT_FOUND", "plan", before.planId ?? "");
    const sub = await createSubscriptionWithin(ctx, before.accountId, plan, { startMode: "immediate", orderId: before.id });
    subscriptionId = sub.id;
    description = `${plan.name} (${plan.interval})`;
  } else {
    const addon = await getAddon(tx, appId, before.addonId ?? "");
    const unit = before.unit ?? addon?.unit ?? "credits";
    const qty = before.creditQty ?? addon?.creditQty ?? 0;
    const result = await grantWithin(ctx, before.accountId, {
      amount: qty,
      unit,
      source: "addon",
      expiresAtMs: addon?.expiresInDays != null ? nowMs + addon.expiresInDays * DAY_MS : undefined,
      reference: before.id,
      description: addon === undefined ? "Add-on" : addon.name,
      metadata: { addonId: before.addonId ?? "", orderId: before.id },
      idempotencyKey: `order:${before.id}`,
    });
    grant = result.grant;
    description = addon === undefined ? `${qty} ${unit}` : `${addon.name} (${qty} ${unit})`;
    if (before.kind === "auto_topup") await clearInFlight(tx, appId, before.id);
  }
  await repo.setFulfilment(tx, appId, before.id, grant?.id ?? null, subscriptionId);
  await repo.insertInvoice(tx, appId, {
    id: newId("invoice", nowMs), key: `order:${before.id}`, accountId: before.accountId, orderId: before.id, subscriptionId, amount: before.amount,
    currency: before.currency, status: "paid", lines: [{ description, amount: before.amount, quantity: 1 }], createdAtMs: nowMs,
  });
  const order = (await repo.getOrder(tx, appId, before.id))!;
  await emitEvents(ctx, [{ type: "order.paid", data: { orderId: order.id, accountId: order.accountId, amount: order.amount, currency: order.currency, planId: order.planId, addonId: order.addonId, subscriptionId, grantId: grant?.id ?? null } }]);
  return { order, grant, alreadyProcessed: false };
}

/** Fulfils a paid order exactly once; a repeat answers `alreadyProcessed: true` and changes nothing. */
export async function fulfilOrder(scope: Scope, orderId: string, refs: { providerRef?: string | null; paymentRef?: string | null } = {}): Promise<FulfilResult> {
  return inTransaction(scope, (tx, nowMs) => fulfilWithin({ tx, appId: scope.appId, nowMs }, orderId, refs));
}

/** The operator says a manual order was paid (admin scope). */
export async function markPaid(scope: Scope, orderId: string, refs: { providerRef?: string | undefined; paymentRef?: string | undefined } = {}): Promise<FulfilResult> {
  const order = await getOrder(scope, orderId);
  if (order.status !== "pending" && order.status !== "paid") {
    throw new TallyError("VALIDATION_ERROR", `Order ${order.id} is ${order.status}; only a pending order can be marked paid`, { issues: [{ path: "/orderId", message: `order is ${order.status}` }] });
  }
  if (refs.providerRef !== undefined) {
    const holder = await scope.db.read((q) => repo.getOrderByProviderRef(q, scope.appId, refs.providerRef!));
    if (holder !== undefined && holder.id !== order.id) throw validationError("/providerRef", `${refs.providerRef} already names order ${holder.id}`);
  }
  try {
    return await fulfilOrder(scope, order.id, { providerRef: refs.providerRef ?? null, paymentRef: refs.paymentRef ?? null });
  } catch (error) {
    // Two orders marked paid at once with one providerRef: the unique index keeps it to one.
    if (refs.providerRef !== undefined && isUniqueViolation(error)) throw validationError("/providerRef", `${refs.providerRef} already names another order`);
    throw error;
  }
}

/** An account's orders (or every order), newest first. */
export async function listOrders(scope: Scope, filter: repo.OrderFilter): Promise<OrderRecord[]> {
  return scope.db.read((q) => repo.listOrders(q, scope.appId, filter));
}

export interface RefundOrderResult {
  order: OrderRecord;
  clawback: TransactionRecord[];
  alreadyProcessed: boolean;
}

/**
 * paid → refunded, once, and claws back what the order granted (see `clawbackWithin`): an
 * add-on's credits, or a plan order's subscription (canceled now) and the credits of its first
 * period. `viaProvider`: the payment provider already refunded (its webhook); otherwise the
 * provider is asked to refund first, so Tally never marks refunded money it did not return.
 */
export async function refundOrder(scope: Scope, provider: PaymentProvider | null, orderIdOrRef: string, input: { reason?: string | undefined }): Promise<RefundOrderResult> {
  const order = await getOrder(scope, orderIdOrRef);
  if (order.status === "refunded") return { order, clawback: [], alreadyProcessed: true };
  if (order.status !== "paid") {
    throw new TallyError("VALIDATION_ERROR", `Order ${order.id} is ${order.status}; only a paid order can be refunded`, { issues: [{ path: "/orderId", message: `order is ${order.status}` }] });
  }
  if (provider !== null && order.provider === provider.name) await provider.refund(order);
  return inTransaction(scope, async (tx, nowMs) => {
    const ctx = { tx, appId: scope.appId, nowMs };
    if (!(await repo.markRefundedIfPaid(tx, scope.appId, order.id, nowMs))) {
      return { order: (await repo.getOrder(tx, scope.appId, order.id))!, clawback: [], alreadyProcessed: true };
    }
    const taken: TransactionRecord[] = [];
    const reason = input.reason === undefined ? `Refund of order ${order.id}` : `Refund of order ${order.id}: ${input.reason}`;
    if (order.kind === "plan" && order.subscriptionId !== null) {
      const sub = await cancelSubscriptionWithin(ctx, order.subscriptionId, reason);
      const plan = await getPlan(tx, scope.appId, order.planId ?? "");
      for (const credit of plan?.credits ?? []) {
        const granted = sub === undefined ? undefined : await findTransactionByKey(tx, scope.appId, `sub:${sub.id}:${sub.createdAtMs}:${credit.unit}`);
        if (granted === undefined) continue;
        const t = await clawbackWithin(ctx, { accountId: order.accountId, unit: credit.unit, amount: granted.amount, lotId: granted.grantId, reference: order.id, description: reason, idempotencyKey: `clawback:${order.id}:${credit.unit}` });
        if (t !== null) taken.push(t);
      }
    } else if (order.unit !== null && order.creditQty !== null) {
      const t = await clawbackWithin(ctx, { accountId: order.accountId, unit: order.unit, amount: order.creditQty, lotId: order.grantId, reference: order.id, description: reason, idempotencyKey: `clawback:${order.id}` });
      if (t !== null) taken.push(t);
    }
    await repo.setClawback(tx, scope.appId, order.id, taken[0]?.id ?? null);
    await repo.setInvoiceStatusByOrder(tx, scope.appId, order.id, "void");
    return { order: (await repo.getOrder(tx, scope.appId, order.id))!, clawback: taken, alreadyProcessed: false };
  });
}

/**
 * By our `ord_…` id or by the provider's id (a Stripe Checkout Session id). An order whose
 * provider gives no id of its own (the manual provider) answered its checkout with the session
 * id `cs_<the order's ulid>` (routes/checkout.ts), which finds it here too.
 */
export async function getOrder(scope: Scope, idOrRef: string): Promise<OrderRecord> {
  const order = await scope.db.read(
    async (q) =>
      (await repo.getOrder(q, scope.appId, idOrRef)) ??
      (await repo.getOrderByProviderRef(q, scope.appId, idOrRef)) ??
      (idOrRef.startsWith("cs_") ? await ownSessionOrder(q, scope.appId, idOrRef) : undefined),
  );
  if (order === undefined) throw notFound("ORDER_NOT_FOUND", "order", idOrRef);
  return order;
}

export interface StartCheckoutInput {
  accountId: string;
  item: { kind: "addon"; id: string } | { kind: "plan"; id: string };
  idempotencyKey?: string | undefined;
  successUrl: string;
  cancelUrl: string;
  baseUrl: string;
}

export interface CheckoutOutcome {
  order: OrderRecord;
  requiresPayment: boolean;
  checkoutUrl: string | null;
  grant: LotRecord | null;
  creditQty: number;
}

/**
 * Creates an order and starts its payment. A free add-on is granted at once (no checkout). The
 * order is committed before the provider is called, and a retry with the same idempotency key
 * finds it and asks the provider again (Stripe deduplicates by our key), so a failed call never
 * leaves two orders.
 */
export async function startCheckout(scope: Scope, provider: PaymentProvider, input: StartCheckoutInput): Promise<CheckoutOutcome> {
  const created = await inTransaction(scope, async (tx, nowMs) => {
    const ctx = { tx, appId: scope.appId, nowMs };
    let order = input.idempotencyKey === undefined ? undefined : await repo.getOrderByKey(tx, scope.appId, input.idempotencyKey);
    let addon: AddonRecord | undefined;
    let plan: PlanRecord | undefined;
    if (input.item.kind === "addon") {
      addon = await getAddon(tx, scope.appId, input.item.id);
      if (addon === undefined) throw notFound("ADDON_NOT_FOUND", "add-on", input.item.id);
    } else {
      plan = await getPlan(tx, scope.appId, input.item.id);
      if (plan === undefined) throw notFound("PLAN_NOT_FOUND", "plan", input.item.id);
    }
    const item = addon !== undefined ? { kind: "addon" as const, addon } : { kind: "plan" as const, plan: plan! };
    if (order !== undefined) {
      if (order.accountId !== input.accountId || order.addonId !== (addon?.id ?? null) || order.planId !== (plan?.id ?? null)) {
        throw new TallyError("IDEMPOTENCY_KEY_REUSED", `Idempotency key ${JSON.stringify(input.idempotencyKey)} was already used for order ${order.id}`, { orderId: order.id });
      }
      return { order, item, grant: null as LotRecord | null };
    }
    const free = item.kind === "addon" && item.addon.priceAmount === 0;
    order = blankOrder(nowMs, input.accountId, free ? "free" : provider.name, item, input.idempotencyKey ?? null);
    await repo.insertOrder(tx, scope.appId, order);
    if (free) {
      const done = await fulfilWithin(ctx, order.id, {});
      return { order: done.order, item, grant: done.grant };
    }
    return { order, item, grant: null as LotRecord | null };
  });
  const { item } = created;
  let order = created.order;
  const creditQty = item.kind === "addon" ? item.addon.creditQty : item.plan.credits.reduce((s, c) => s + c.amount, 0);
  if (order.provider === "free") {
    let grant = created.grant;
    if (grant === null && order.grantId !== null) {
      const grantId = order.grantId;
      grant = (await scope.db.read((q) => getLots(q, scope.appId, [grantId])))[0] ?? null;
    }
    return { order, requiresPayment: false, checkoutUrl: null, grant, creditQty };
  }
  if (order.status === "pending" && order.checkoutUrl === null) {
    const result = await provider.createCheckout({
      appId: scope.appId,
      order,
      name: item.kind === "addon" ? item.addon.name : item.plan.name,
      interval: item.kind === "plan" ? item.plan.interval : null,
      successUrl: input.successUrl,
      cancelUrl: input.cancelUrl,
      baseUrl: input.baseUrl,
    });
    await inTransaction(scope, (tx) => repo.setCheckout(tx, scope.appId, order.id, result.providerRef, result.checkoutUrl));
    order = { ...order, providerRef: result.providerRef, checkoutUrl: result.checkoutUrl };
  }
  return { order, requiresPayment: true, checkoutUrl: order.checkoutUrl, grant: null, creditQty };
}

// ---- purchase links and hosted pages -------------------------------------------------------

const LINK_SECRET_SETTING = "commerce.link_secret";
const LINK_TTL_MS = 7 * DAY_MS;

async function linkSecret(scope: Scope): Promise<string> {
  const existing = await scope.db.read((q) => getSetting(q, LINK_SECRET_SETTING));
  if (existing !== undefined) return existing;
  return scope.db.transaction((tx) => initSetting(tx, LINK_SECRET_SETTING, randomBytes(32).toString("hex")));
}

export interface LinkClaims {
  appId: string;
  kind: "buy" | "invoice";
  accountId: string;
  item?: { kind: "addon" | "plan"; id: string };
  invoiceId?: string;
  expMs: number;
}

/** A token the public pages trust: base64url(JSON claims) + "." + HMAC-SHA256 with an instance secret. */
export async function signLink(scope: Scope, claims: LinkClaims): Promise<string> {
  const body = Buffer.from(JSON.stringify(claims)).toString("base64url");
  const mac = createHmac("sha256", await linkSecret(scope)).update(body).digest("base64url");
  return `${body}.${mac}`;
}

/** Verifies a link token (signature and expiry) → its claims, or null. */
export async function verifyLink(scope: Pick<Scope, "db" | "clock">, token: string): Promise<LinkClaims | null> {
  const [body, mac] = token.split(".");
  if (body === undefined || mac === undefined) return null;
  const secret = await linkSecret({ ...scope, appId: "_instance" });
  // Compared as canonical text: base64url decoding ignores the last character's spare bits.
  const expected = Buffer.from(createHmac("sha256", secret).update(body).digest("base64url"));
  const given = Buffer.from(mac);
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const claims = JSON.parse(Buffer.from(body, "base64url").toString("utf8")) as LinkClaims;
    return claims.expMs > scope.clock.nowMs() ? claims : null;
  } catch {
    return null;
  }
}

export interface PurchaseOption {
  kind: "addon" | "plan";
  id: string;
  name: string;
  creditQty: number;
  priceAmount: number;
  currency: string;
  url: string;
}

/** Every add-on and plan (of `productId` when given) as an option with a signed, expiring `/buy/{token}` link. */
export async function purchaseLinks(scope: Scope, ref: AccountRef, productId: string | undefined, baseUrl: string): Promise<PurchaseOption[]> {
  const account = await scope.db.read((q) => requireAccount(q, scope.appId, ref));
  const { addons, plans } = await scope.db.read(async (q) => ({
    addons: await listAddons(q, scope.appId, { productId }, 100),
    plans: await listPlans(q, scope.appId, { productId }, 100),
  }));
  const expMs = scope.clock.nowMs() + LINK_TTL_MS;
  const out: PurchaseOption[] = [];
  for (const a of addons) {
    const token = await signLink(scope, { appId: scope.appId, kind: "buy", accountId: account.id, item: { kind: "addon", id: a.id }, expMs });
    out.push({ kind: "addon", id: a.id, name: a.name, creditQty: a.creditQty, priceAmount: a.priceAmount, currency: a.currency, url: `${baseUrl}/buy/${token}` });
  }
  for (const p of plans) {
    const token = await signLink(scope, { appId: scope.appId, kind: "buy", accountId: account.id, item: { kind: "plan", id: p.id }, expMs });
    out.push({ kind: "plan", id: p.id, name: p.name, creditQty: p.credits.reduce((s, c) => s + c.amount, 0), priceAmount: p.priceAmount, currency: p.currency, url: `${baseUrl}/buy/${token}` });
  }
  return out;
}

export async function listInvoices(scope: Scope, accountId: string, after: string | undefined, limit: number): Promise<InvoiceRecord[]> {
  return scope.db.read(async (q) => {
    await requireAccount(q, scope.appId, { accountId });
    return repo.listInvoices(q, scope.appId, accountId, after, limit);
  });
}

export async function invoiceUrl(scope: Scope, invoice: InvoiceRecord, baseUrl: string): Promise<string> {
  // Invoices stay viewable for a year from when the link was made.
  const token = await signLink(scope, { appId: scope.appId, kind: "invoice", accountId: invoice.accountId, invoiceId: invoice.id, expMs: scope.clock.nowMs() + 365 * DAY_MS });
  return `${baseUrl}/invoices/${token}`;
}

export async function getInvoice(scope: Scope, id: string): Promise<InvoiceRecord | undefined> {
  return scope.db.read((q) => repo.getInvoice(q, scope.appId, id));
}

export interface ActivePool {
  unit: string;
  remaining: number;
  addonId: string | null;
  expiresAt: string | null;
}

/** Credits left from add-ons, per lot. */
export async function activeAddons(scope: Scope, accountId: string): Promise<ActivePool[]> {
  const nowMs = scope.clock.nowMs();
  return scope.db.read(async (q) => {
    await requireAccount(q, scope.appId, { accountId });
    const rows = await q.all<{ unit: string; remaining: number; metadata: string; expires_at: number | null }>(
      "SELECT unit, remaining, metadata, expires_at FROM lots WHERE app_id = ? AND account_id = ? AND remaining > 0 AND source = 'addon' ORDER BY lot_id LIMIT 1000",
      [scope.appId, accountId],
    );
    return rows
      .filter((r) => r.expires_at === null || Number(r.expires_at) > nowMs)
      .map((r) => {
        const meta = JSON.parse(r.metadata) as Record<string, string>;
        return { unit: r.unit, remaining: Number(r.remaining), addonId: meta["addonId"] ?? null, expiresAt: r.expires_at === null ? null : toIso(Number(r.expires_at)) };
      });
  });
}

/** The order behind a session id Tally made itself (`cs_<ulid>` of `ord_<ulid>`), if it has no provider id. */
async function ownSessionOrder(q: Sql, appId: string, sessionId: string): Promise<OrderRecord | undefined> {
  const order = await repo.getOrder(q, appId, `ord_${sessionId.slice("cs_".length)}`);
  return order !== undefined && order.providerRef === null ? order : undefined;
}

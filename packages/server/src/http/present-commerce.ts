import { toIso, toIsoOrNull } from "../domain/clock.ts";
import type { AddonRecord, PlanRecord, ProductRecord } from "../store/repo/catalog.ts";
import type { SubscriptionRecord } from "../store/repo/subscriptions.ts";
import type { InvoiceRecord, OrderRecord } from "../store/repo/orders.ts";
import type { AttemptRecord, DeliveryRecord, WebhookEndpointRecord } from "../store/repo/webhooks.ts";

/** Commerce records → the contract's shapes. */
export const presentCommerce = {
  product: (p: ProductRecord) => ({ id: p.id, name: p.name, description: p.description, metadata: p.metadata, createdAt: toIso(p.createdAtMs) }),
  plan: (p: PlanRecord) => ({
    id: p.id, productId: p.productId, name: p.name, priceAmount: p.priceAmount, currency: p.currency, interval: p.interval, trialDays: p.trialDays,
    credits: p.credits, features: p.features, createdAt: toIso(p.createdAtMs),
  }),
  addon: (a: AddonRecord) => ({
    id: a.id, productId: a.productId, name: a.name, unit: a.unit, creditQty: a.creditQty, priceAmount: a.priceAmount, currency: a.currency,
    expiresInDays: a.expiresInDays, createdAt: toIso(a.createdAtMs),
  }),
  subscription: (s: SubscriptionRecord) => ({
    id: s.id, accountId: s.accountId, planId: s.planId, productId: s.productId, status: s.status, currentPeriodStart: toIso(s.currentPeriodStartMs),
    currentPeriodEnd: toIsoOrNull(s.currentPeriodEndMs), cancelAtPeriodEnd: s.cancelAtPeriodEnd, canceledAt: toIsoOrNull(s.canceledAtMs),
    cancelReason: s.cancelReason, createdAt: toIso(s.createdAtMs),
  }),
  order: (o: OrderRecord) => ({
    id: o.id, accountId: o.accountId, productId: o.productId, planId: o.planId, addonId: o.addonId, status: o.status, amount: o.amount, currency: o.currency,
    providerRef: o.providerRef, provider: o.provider, checkoutUrl: o.checkoutUrl, subscriptionId: o.subscriptionId, createdAt: toIso(o.createdAtMs),
    paidAt: toIsoOrNull(o.paidAtMs), refundedAt: toIsoOrNull(o.refundedAtMs),
  }),
  invoice: (i: InvoiceRecord, hostedUrl: string) => ({
    id: i.id, orderId: i.orderId, subscriptionId: i.subscriptionId, accountId: i.accountId, amount: i.amount, currency: i.currency, status: i.status,
    lines: i.lines, hostedUrl, createdAt: toIso(i.createdAtMs),
  }),
  endpoint: (e: WebhookEndpointRecord, withSecret = false) => ({
    id: e.id, url: e.url, events: e.events, balanceLowThreshold: e.balanceLowThreshold, createdAt: toIso(e.createdAtMs), ...(withSecret ? { secret: e.secret } : {}),
  }),
  delivery: (d: DeliveryRecord & { attemptLog: AttemptRecord[] }) => ({
    id: d.id, endpointId: d.endpointId, eventId: d.eventId, type: d.eventType, status: d.status, attempts: d.attempts, nextAttemptAt: toIsoOrNull(d.nextAttemptAtMs),
    lastStatusCode: d.lastStatusCode, lastError: d.lastError, createdAt: toIso(d.createdAtMs), deliveredAt: toIsoOrNull(d.deliveredAtMs),
    payload: JSON.parse(d.payload) as unknown,
    attemptLog: d.attemptLog.map((a) => ({ attempt: a.attempt, at: toIso(a.attemptedAtMs), statusCode: a.statusCode, error: a.error, durationMs: a.durationMs })),
  }),
};

/** The server's public base URL as the client reached it (links in answers and hosted pages). */
export function baseUrlOf(request: { protocol: string; headers: Record<string, string | string[] | undefined> }): string {
  const host = request.headers["host"];
  return `${request.protocol}://${typeof host === "string" ? host : "localhost"}`;
}

/** Cursor pagination over rows fetched with `limit + 1`. */
export function pageOf<T extends { id: string }, U>(rows: T[], limit: number, map: (row: T) => U): { items: U[]; nextCursor: string | null; hasMore: boolean } {
  const hasMore = rows.length > limit;
  const items = hasMore ? rows.slice(0, limit) : rows;
  return { items: items.map(map), nextCursor: hasMore ? items[items.length - 1]!.id : null, hasMore };
}

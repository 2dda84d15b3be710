import { createHmac, randomBytes } from "node:crypto";
import type { Sql } from "../store/sql.ts";
import type { Scope } from "./context.ts";
import { inTransaction } from "./context.ts";
import { newId } from "./ids.ts";
import { notFound, validationError } from "./errors.ts";
import { toIso } from "./clock.ts";
import { LIMITS } from "./limits.ts";
import * as repo from "../store/repo/webhooks.ts";

/**
 * Outgoing webhooks. An event is written to the outbox (`webhook_deliveries`, one row per
 * subscribed endpoint) in the same database transaction as the change that caused it, so an
 * event exists if and only if its change committed. `jobs/webhook-delivery.ts` sends them.
 */
export const WEBHOOK_EVENTS = [
  "credits.granted",
  "credits.deducted",
  "credits.expired",
  "balance.low",
  "reservation.expired",
  "subscription.renewed",
  "subscription.canceled",
  "order.paid",
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENTS)[number];

export interface OutboxEvent {
  readonly type: string;
  readonly data: Record<string, unknown>;
}

// Which endpoints an application has, cached briefly per process so that the ledger's hot path
// pays no query when an application has none. Changes made through this process invalidate at
// once; another process's changes are seen within `ENDPOINT_CACHE_MS`.
const ENDPOINT_CACHE_MS = 5_000;
const endpointCache = new Map<string, { endpoints: repo.WebhookEndpointRecord[]; untilMs: number }>();

async function endpointsOf(tx: Sql, appId: string): Promise<repo.WebhookEndpointRecord[]> {
  const cached = endpointCache.get(appId);
  if (cached !== undefined && cached.untilMs > Date.now()) return cached.endpoints;
  const endpoints = await repo.listEndpoints(tx, appId, { limit: LIMITS.webhookEndpointsPerAppMax });
  if (endpointCache.size > 10_000) endpointCache.clear();
  endpointCache.set(appId, { endpoints, untilMs: Date.now() + ENDPOINT_CACHE_MS });
  return endpoints;
}

export function invalidateEndpointCache(appId?: string): void {
  if (appId === undefined) endpointCache.clear();
  else endpointCache.delete(appId);
}

/** Writes `events` to the outbox for every endpoint subscribed to them, inside the caller's transaction. */
export async function emitEvents(ctx: { tx: Sql; appId: string; nowMs: number }, events: readonly OutboxEvent[], onlyEndpointIds?: readonly string[]): Promise<void> {
  if (events.length === 0) return;
  const all = await endpointsOf(ctx.tx, ctx.appId);
  const endpoints = onlyEndpointIds === undefined ? all : all.filter((e) => onlyEndpointIds.includes(e.id));
  if (endpoints.length === 0) return;
  for (const event of events) {
    const targets = endpoints.filter((e) => e.events.includes(event.type) || e.events.includes("*"));
    if (targets.length === 0) continue;
    const eventId = newId("event", ctx.nowMs);
    const payload = JSON.stringify({ id: eventId, type: event.type, createdAt: toIso(ctx.nowMs), data: event.data });
    for (const endpoint of targets) {
      await repo.insertDelivery(ctx.tx, ctx.appId, {
        id: newId("event", ctx.nowMs).replace(/^evt_/, "whd_"),
        endpointId: endpoint.id,
        eventId,
        eventType: event.type,
        payload,
        status: "pending",
        attempts: 0,
        nextAttemptAtMs: ctx.nowMs,
        lastStatusCode: null,
        lastError: null,
        createdAtMs: ctx.nowMs,
        deliveredAtMs: null,
      });
    }
  }
}

/**
 * The ledger's outbox writer, called by `UnitLedger.finish`. Adds `balance.low` for endpoints
 * with a threshold the operation crossed downwards.
 */
export async function writeOutbox(
  ctx: { tx: Sql; appId: string; nowMs: number },
  events: readonly OutboxEvent[],
  balance: { accountId: string; unit: string; availableBefore: number; availableAfter: number },
): Promise<void> {
  if (events.length === 0 && balance.availableAfter >= balance.availableBefore) return;
  const endpoints = await endpointsOf(ctx.tx, ctx.appId);
  if (endpoints.length === 0) return;
  await emitEvents(ctx, events);
  if (balance.availableAfter >= balance.availableBefore) return;
  const listening = endpoints.filter((e) => e.events.includes("balance.low") || e.events.includes("*"));
  if (listening.length === 0) return;
  // An endpoint's own threshold, else the account's metadata `balanceLowThreshold` (read only here).
  let accountThreshold: number | null | undefined;
  const crossed = (threshold: number) => balance.availableBefore >= threshold && balance.availableAfter < threshold;
  for (const endpoint of listening) {
    let threshold = endpoint.balanceLowThreshold;
    if (threshold === null) {
      if (accountThreshold === undefined) {
        const row = await ctx.tx.get<{ metadata: string }>("SELECT metadata FROM accounts WHERE app_id = ? AND account_id = ?", [ctx.appId, balance.accountId]);
        const raw = row === undefined ? undefined : (JSON.parse(row.metadata) as Record<string, string>)["balanceLowThreshold"];
        const parsed = raw === undefined ? NaN : Number(raw);
        accountThreshold = Number.isSafeInteger(parsed) && parsed >= 0 ? parsed : null;
      }
      threshold = accountThreshold;
    }
    if (threshold === null || !crossed(threshold)) continue;
    await emitEvents(ctx, [{ type: "balance.low", data: { accountId: balance.accountId, unit: balance.unit, available: balance.availableAfter, threshold } }], [endpoint.id]);
  }
}

export interface EndpointInput {
  url: string;
  events: string[];
  secret?: string | undefined;
  balanceLowThreshold?: number | undefined;
}

/**
 * Registers an endpoint. The secret (generated when not given) signs every delivery.
 *
 * @example
 * await createEndpoint(scope, { url: "https://example.com/hooks", events: ["order.paid"] });
 */
export async function createEndpoint(scope: Scope, input: EndpointInput): Promise<repo.WebhookEndpointRecord> {
  for (const [i, e] of input.events.entries()) {
    if (e !== "*" && !(WEBHOOK_EVENTS as readonly string[]).includes(e)) throw validationError(`/events/${i}`, `unknown event ${JSON.stringify(e)}; one of ${WEBHOOK_EVENTS.join(", ")} or *`);
  }
  let parsed: URL;
  try {
    parsed = new URL(input.url);
  } catch {
    throw validationError("/url", "must be an absolute http(s) URL");
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw validationError("/url", "must be an absolute http(s) URL");
  const endpoint = await inTransaction(scope, async (tx, nowMs) => {
    if ((await repo.countEndpoints(tx, scope.appId)) >= LIMITS.webhookEndpointsPerAppMax) {
      throw validationError("/url", `an application has at most ${LIMITS.webhookEndpointsPerAppMax} webhook endpoints; delete one first`);
    }
    const record: repo.WebhookEndpointRecord = {
      id: newId("webhookEndpoint", nowMs),
      url: input.url,
      events: [...new Set(input.events)],
      secret: input.secret ?? `whsec_${randomBytes(24).toString("hex")}`,
      balanceLowThreshold: input.balanceLowThreshold ?? null,
      createdAtMs: nowMs,
      deletedAtMs: null,
    };
    await repo.insertEndpoint(tx, scope.appId, record);
    return record;
  });
  invalidateEndpointCache(scope.appId);
  return endpoint;
}

/** Live endpoints, oldest first, `limit` after `afterId`. */
export async function listEndpoints(scope: Scope, page: { afterId?: string | undefined; limit: number }): Promise<repo.WebhookEndpointRecord[]> {
  return scope.db.read((q) => repo.listEndpoints(q, scope.appId, page));
}

export async function getEndpoint(scope: Scope, id: string): Promise<repo.WebhookEndpointRecord> {
  const endpoint = await scope.db.read((q) => repo.getEndpoint(q, scope.appId, id));
  if (endpoint === undefined) throw notFound("NOT_FOUND", "webhook endpoint", id);
  return endpoint;
}

export async function deleteEndpoint(scope: Scope, id: string): Promise<void> {
  const deleted = await inTransaction(scope, (tx, nowMs) => repo.deleteEndpoint(tx, scope.appId, id, nowMs));
  invalidateEndpointCache(scope.appId);
  if (!deleted) throw notFound("NOT_FOUND", "webhook endpoint", id);
}

export async function listDeliveries(scope: Scope, endpointId: string, after: string | undefined, limit: number): Promise<Array<repo.DeliveryRecord & { attemptLog: repo.AttemptRecord[] }>> {
  return scope.db.read(async (q) => {
    if ((await repo.getEndpoint(q, scope.appId, endpointId)) === undefined) throw notFound("NOT_FOUND", "webhook endpoint", endpointId);
    const deliveries = await repo.listDeliveries(q, scope.appId, endpointId, after, limit);
    const attempts = await repo.listAttempts(q, scope.appId, deliveries.map((d) => d.id));
    return deliveries.map((d) => ({ ...d, attemptLog: attempts.filter((a) => a.deliveryId === d.id) }));
  });
}

/** `tally-signature: t=<unix>,v1=<hex hmac-sha256(secret, t + "." + body)>`. */
export function signPayload(secret: string, body: string, unixSeconds: number): string {
  const mac = createHmac("sha256", secret).update(`${unixSeconds}.${body}`).digest("hex");
  return `t=${unixSeconds},v1=${mac}`;
}

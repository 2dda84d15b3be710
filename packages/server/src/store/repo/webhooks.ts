import type { Sql, SqlValue } from "../sql.ts";
import { parseJson } from "./json.ts";

export interface WebhookEndpointRecord {
  id: string;
  url: string;
  events: string[];
  secret: string;
  balanceLowThreshold: number | null;
  createdAtMs: number;
  deletedAtMs: number | null;
}

export type DeliveryStatus = "pending" | "delivered" | "failed";

export interface DeliveryRecord {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  payload: string;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAtMs: number | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAtMs: number;
  deliveredAtMs: number | null;
}

export interface AttemptRecord {
  deliveryId: string;
  attempt: number;
  attemptedAtMs: number;
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

interface EndpointRow { endpoint_id: string; url: string; events: string; secret: string; balance_low_threshold: number | null; created_at: number; deleted_at: number | null }
interface DeliveryRow {
  delivery_id: string; endpoint_id: string; event_id: string; event_type: string; payload: string; status: string; attempts: number;
  next_attempt_at: number | null; last_status_code: number | null; last_error: string | null; created_at: number; delivered_at: number | null;
}
const n = (v: number | null): number | null => (v === null ? null : Number(v));
const toEndpoint = (r: EndpointRow): WebhookEndpointRecord => ({
  id: r.endpoint_id, url: r.url, events: parseJson<string[]>(r.events, []), secret: r.secret, balanceLowThreshold: n(r.balance_low_threshold),
  createdAtMs: Number(r.created_at), deletedAtMs: n(r.deleted_at),
});
const toDelivery = (r: DeliveryRow): DeliveryRecord => ({
  id: r.delivery_id, endpointId: r.endpoint_id, eventId: r.event_id, eventType: r.event_type, payload: r.payload, status: r.status as DeliveryStatus,
  attempts: Number(r.attempts), nextAttemptAtMs: n(r.next_attempt_at), lastStatusCode: n(r.last_status_code), lastError: r.last_error,
  createdAtMs: Number(r.created_at), deliveredAtMs: n(r.delivered_at),
});

export async function insertEndpoint(tx: Sql, appId: string, e: WebhookEndpointRecord): Promise<void> {
  await tx.run("INSERT INTO webhook_endpoints (app_id, endpoint_id, url, events, secret, balance_low_threshold, created_at, deleted_at) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)", [
    appId, e.id, e.url, JSON.stringify(e.events), e.secret, e.balanceLowThreshold, e.createdAtMs,
  ]);
}
export async function getEndpoint(q: Sql, appId: string, id: string): Promise<WebhookEndpointRecord | undefined> {
  const r = await q.get<EndpointRow>("SELECT * FROM webhook_endpoints WHERE app_id = ? AND endpoint_id = ? AND deleted_at IS NULL", [appId, id]);
  return r === undefined ? undefined : toEndpoint(r);
}
/** Live endpoints oldest first, `limit` of them after `afterId` (all of them: no `afterId`, the domain's cap as `limit`). */
export async function listEndpoints(q: Sql, appId: string, page: { afterId?: string | undefined; limit: number }): Promise<WebhookEndpointRecord[]> {
  const rows =
    page.afterId === undefined
      ? await q.all<EndpointRow>("SELECT * FROM webhook_endpoints WHERE app_id = ? AND deleted_at IS NULL ORDER BY endpoint_id LIMIT ?", [appId, page.limit])
      : await q.all<EndpointRow>("SELECT * FROM webhook_endpoints WHERE app_id = ? AND deleted_at IS NULL AND endpoint_id > ? ORDER BY endpoint_id LIMIT ?", [appId, page.afterId, page.limit]);
  return rows.map(toEndpoint);
}
export async function countEndpoints(q: Sql, appId: string): Promise<number> {
  const row = await q.get<{ n: number }>("SELECT COUNT(*) AS n FROM webhook_endpoints WHERE app_id = ? AND deleted_at IS NULL", [appId]);
  return Number(row?.n ?? 0);
}
export async function deleteEndpoint(tx: Sql, appId: string, id: string, nowMs: number): Promise<boolean> {
  const { changes } = await tx.run("UPDATE webhook_endpoints SET deleted_at = ? WHERE app_id = ? AND endpoint_id = ? AND deleted_at IS NULL", [nowMs, appId, id]);
  // Nothing more is sent to a deleted endpoint.
  await tx.run("UPDATE webhook_deliveries SET status = 'failed', next_attempt_at = NULL, last_error = 'endpoint deleted' WHERE app_id = ? AND endpoint_id = ? AND status = 'pending'", [appId, id]);
  return changes === 1;
}

export async function insertDelivery(tx: Sql, appId: string, d: DeliveryRecord): Promise<void> {
  await tx.run(
    `INSERT INTO webhook_deliveries (app_id, delivery_id, endpoint_id, event_id, event_type, payload, status, attempts, next_attempt_at, last_status_code, last_error, created_at, delivered_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [appId, d.id, d.endpointId, d.eventId, d.eventType, d.payload, d.status, d.attempts, d.nextAttemptAtMs, d.lastStatusCode, d.lastError, d.createdAtMs, d.deliveredAtMs],
  );
}
export async function getDelivery(q: Sql, appId: string, id: string): Promise<DeliveryRecord | undefined> {
  const r = await q.get<DeliveryRow>("SELECT * FROM webhook_deliveries WHERE app_id = ? AND delivery_id = ?", [appId, id]);
  return r === undefined ? undefined : toDelivery(r);
}
export async function listDeliveries(q: Sql, appId: string, endpointId: string, after: string | undefined, limit: number): Promise<DeliveryRecord[]> {
  const params: SqlValue[] = [appId, endpointId, after ?? "", limit];
  return (await q.all<DeliveryRow>("SELECT * FROM webhook_deliveries WHERE app_id = ? AND endpoint_id = ? AND delivery_id > ? ORDER BY delivery_id LIMIT ?", params)).map(toDelivery);
}
/** Deliveries due for an attempt, every application: for the delivery job. */
export async function listDueDeliveries(q: Sql, nowMs: number, limit: number): Promise<Array<{ appId: string; id: string; nextAttemptAtMs: number }>> {
  const rows = await q.all<{ app_id: string; delivery_id: string; next_attempt_at: number }>(
    "SELECT app_id, delivery_id, next_attempt_at FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
    [nowMs, limit],
  );
  return rows.map((r) => ({ appId: r.app_id, id: r.delivery_id, nextAttemptAtMs: Number(r.next_attempt_at) }));
}
/** Takes a delivery for one attempt: moves its next attempt to `leaseUntilMs` unless another process already did. */
export async function claimDelivery(tx: Sql, appId: string, id: string, expectedNextMs: number, leaseUntilMs: number): Promise<boolean> {
  const { changes } = await tx.run(
    "UPDATE webhook_deliveries SET next_attempt_at = ? WHERE app_id = ? AND delivery_id = ? AND status = 'pending' AND next_attempt_at = ?",
    [leaseUntilMs, appId, id, expectedNextMs],
  );
  return changes === 1;
}
export async function recordAttempt(tx: Sql, appId: string, a: AttemptRecord, outcome: { status: DeliveryStatus; nextAttemptAtMs: number | null; deliveredAtMs: number | null }): Promise<void> {
  await tx.run("INSERT INTO webhook_attempts (app_id, delivery_id, attempt, attempted_at, status_code, error, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING", [
    appId, a.deliveryId, a.attempt, a.attemptedAtMs, a.statusCode, a.error, a.durationMs,
  ]);
  await tx.run(
    "UPDATE webhook_deliveries SET status = ?, attempts = ?, next_attempt_at = ?, last_status_code = ?, last_error = ?, delivered_at = ? WHERE app_id = ? AND delivery_id = ?",
    [outcome.status, a.attempt, outcome.nextAttemptAtMs, a.statusCode, a.error, outcome.deliveredAtMs, appId, a.deliveryId],
  );
}
export async function listAttempts(q: Sql, appId: string, deliveryIds: readonly string[]): Promise<AttemptRecord[]> {
  if (deliveryIds.length === 0) return [];
  const rows = await q.all<{ delivery_id: string; attempt: number; attempted_at: number; status_code: number | null; error: string | null; duration_ms: number }>(
    `SELECT * FROM webhook_attempts WHERE app_id = ? AND delivery_id IN (${deliveryIds.map(() => "?").join(", ")}) ORDER BY delivery_id, attempt`,
    [appId, ...deliveryIds],
  );
  return rows.map((r) => ({ deliveryId: r.delivery_id, attempt: Number(r.attempt), attemptedAtMs: Number(r.attempted_at), statusCode: n(r.status_code), error: r.error, durationMs: Number(r.duration_ms) }));
}

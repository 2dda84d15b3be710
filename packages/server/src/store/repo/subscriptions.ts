import type { Sql, SqlValue } from "../sql.ts";

export type SubscriptionStatus = "trial" | "active" | "past_due" | "pending_cancel" | "canceled" | "expired";

export interface SubscriptionRecord {
  id: string;
  accountId: string;
  planId: string;
  productId: string | null;
  status: SubscriptionStatus;
  currentPeriodStartMs: number;
  /** Null for one-time plans: the period never ends. */
  currentPeriodEndMs: number | null;
  /** The period start whose credits were granted; equal to `currentPeriodStartMs` once granted. */
  grantedPeriodStartMs: number | null;
  /** When the scheduler must next look at it (grant or period end); null when nothing is due ever again. */
  nextRunAtMs: number | null;
  cancelAtPeriodEnd: boolean;
  canceledAtMs: number | null;
  cancelReason: string | null;
  orderId: string | null;
  createdAtMs: number;
  updatedAtMs: number;
}

interface Row {
  sub_id: string; account_id: string; plan_id: string; product_id: string | null; status: string;
  current_period_start: number; current_period_end: number | null; granted_period_start: number | null; next_run_at: number | null;
  cancel_at_period_end: number | boolean; canceled_at: number | null; cancel_reason: string | null; order_id: string | null;
  created_at: number; updated_at: number;
}

const n = (v: number | null): number | null => (v === null ? null : Number(v));
const toSub = (r: Row): SubscriptionRecord => ({
  id: r.sub_id,
  accountId: r.account_id,
  planId: r.plan_id,
  productId: r.product_id,
  status: r.status as SubscriptionStatus,
  currentPeriodStartMs: Number(r.current_period_start),
  currentPeriodEndMs: n(r.current_period_end),
  grantedPeriodStartMs: n(r.granted_period_start),
  nextRunAtMs: n(r.next_run_at),
  cancelAtPeriodEnd: Number(r.cancel_at_period_end) === 1,
  canceledAtMs: n(r.canceled_at),
  cancelReason: r.cancel_reason,
  orderId: r.order_id,
  createdAtMs: Number(r.created_at),
  updatedAtMs: Number(r.updated_at),
});

export async function insertSubscription(tx: Sql, appId: string, s: SubscriptionRecord): Promise<void> {
  await tx.run(
    `INSERT INTO subscriptions (app_id, sub_id, account_id, plan_id, product_id, status, current_period_start, current_period_end, granted_period_start,
       next_run_at, cancel_at_period_end, canceled_at, cancel_reason, order_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [appId, s.id, s.accountId, s.planId, s.productId, s.status, s.currentPeriodStartMs, s.currentPeriodEndMs, s.grantedPeriodStartMs, s.nextRunAtMs,
      s.cancelAtPeriodEnd ? 1 : 0, s.canceledAtMs, s.cancelReason, s.orderId, s.createdAtMs, s.updatedAtMs],
  );
}

/**
 * Writes a subscription back only if nobody changed it since it was read (`expectedUpdatedAtMs`
 * and `expectedPeriodStartMs` as read): the compare-and-set that makes a renewal happen once
 * across processes. Returns false when another writer won.
 */
export async function saveSubscriptionIf(tx: Sql, appId: string, s: SubscriptionRecord, expected: { periodStartMs: number; grantedPeriodStartMs: number | null; status: SubscriptionStatus }): Promise<boolean> {
  const grantedCond = expected.grantedPeriodStartMs === null ? "granted_period_start IS NULL" : "granted_period_start = ?";
  const params: SqlValue[] = [s.status, s.currentPeriodStartMs, s.currentPeriodEndMs, s.grantedPeriodStartMs, s.nextRunAtMs, s.cancelAtPeriodEnd ? 1 : 0,
    s.canceledAtMs, s.cancelReason, s.updatedAtMs, appId, s.id, expected.periodStartMs, expected.status];
  if (expected.grantedPeriodStartMs !== null) params.push(expected.grantedPeriodStartMs);
  const { changes } = await tx.run(
    `UPDATE subscriptions SET status = ?, current_period_start = ?, current_period_end = ?, granted_period_start = ?, next_run_at = ?, cancel_at_period_end = ?,
       canceled_at = ?, cancel_reason = ?, updated_at = ? WHERE app_id = ? AND sub_id = ? AND current_period_start = ? AND status = ? AND ${grantedCond}`,
    params,
  );
  return changes === 1;
}

export async function getSubscription(q: Sql, appId: string, id: string, forUpdate = false): Promise<SubscriptionRecord | undefined> {
  const r = await q.get<Row>(`SELECT * FROM subscriptions WHERE app_id = ? AND sub_id = ?${forUpdate ? q.dialect.forUpdate : ""}`, [appId, id]);
  return r === undefined ? undefined : toSub(r);
}

export interface SubscriptionFilter {
  accountId?: string | undefined;
  /**
   * Only subscriptions in these statuses as of `atMs`: a `pending_cancel` one whose period has
   * ended counts as `canceled`, a `past_due` one as `expired` (the domain's `effectiveStatus`,
   * which the renewal job catches up with later).
   */
  statusAt?: { statuses: readonly SubscriptionStatus[]; atMs: number } | undefined;
  after?: string | undefined;
  limit: number;
}

/** SQL for "the status as of ? is `status`" (one parameter, the time, per `?`). */
const STATUS_AT: Record<SubscriptionStatus, string> = {
  trial: "status = 'trial'",
  active: "status = 'active'",
  pending_cancel: "(status = 'pending_cancel' AND (current_period_end IS NULL OR current_period_end > ?))",
  past_due: "(status = 'past_due' AND (current_period_end IS NULL OR current_period_end > ?))",
  canceled: "(status = 'canceled' OR (status = 'pending_cancel' AND current_period_end <= ?))",
  expired: "(status = 'expired' OR (status = 'past_due' AND current_period_end <= ?))",
};

export async function listSubscriptions(q: Sql, appId: string, f: SubscriptionFilter): Promise<SubscriptionRecord[]> {
  const params: SqlValue[] = [appId, f.after ?? ""];
  let sql = "SELECT * FROM subscriptions WHERE app_id = ? AND sub_id > ?";
  if (f.accountId !== undefined) {
    sql += " AND account_id = ?";
    params.push(f.accountId);
  }
  if (f.statusAt !== undefined && f.statusAt.statuses.length > 0) {
    const parts = f.statusAt.statuses.map((status) => {
      const condition = STATUS_AT[status];
      if (condition.includes("?")) params.push(f.statusAt!.atMs);
      return condition;
    });
    sql += ` AND (${parts.join(" OR ")})`;
  }
  params.push(f.limit);
  return (await q.all<Row>(`${sql} ORDER BY sub_id LIMIT ?`, params)).map(toSub);
}

/** Subscriptions the scheduler must look at (every application): for the renewal job. */
export async function listDueSubscriptions(q: Sql, nowMs: number, limit: number): Promise<Array<{ appId: string; id: string }>> {
  const rows = await q.all<{ app_id: string; sub_id: string }>(
    "SELECT app_id, sub_id FROM subscriptions WHERE next_run_at IS NOT NULL AND next_run_at <= ? ORDER BY next_run_at LIMIT ?",
    [nowMs, limit],
  );
  return rows.map((r) => ({ appId: r.app_id, id: r.sub_id }));
}

import type { Sql } from "../sql.ts";

/**
 * Read-only aggregates for the operator's dashboard. Every query is filtered by `app_id` first;
 * nothing here writes. Balances are read from the `balances` rows as last settled (the sweeper
 * settles due expiries within seconds), which is exact enough for an overview.
 */

/** Transaction types that take credits away because something was used. */
export const SPEND_TYPES = ["deduct", "debit", "reservation_capture", "reservation_confirm"] as const;
const SPEND_IN = SPEND_TYPES.map((t) => `'${t}'`).join(", ");

export interface LedgerBucketRow {
  /** Start of the bucket, epoch ms (UTC). */
  startMs: number;
  granted: number;
  spent: number;
  refunded: number;
  expired: number;
  clawedBack: number;
  reserved: number;
}

export interface LedgerSeriesFilter {
  unit: string;
  fromMs: number;
  toMs: number;
  /** 3,600,000 (hour) or 86,400,000 (day): whole divisors of a UTC day, so buckets align to UTC. */
  bucketMs: number;
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

const ULID_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/**
 * The smallest id `prefix_…` that `newId` (domain/ids.ts: a ULID whose first 10 characters encode
 * the time in ms) can mint at or after `ms`. Ids are minted no earlier than their row's
 * `created_at` (same clock reading, and ULIDs never go back in time within a process), so
 * `id >= idFloor(prefix, from)` holds for every row with `created_at >= from`: a bound on the
 * primary key that lets a recent window skip an application's older history instead of scanning
 * it. The exact `created_at` filter is still applied.
 *
 * @example
 * idFloor("txn", Date.parse("2026-01-01T00:00:00Z")); // "txn_01KDVDNA00"
 */
export function idFloor(prefix: string, ms: number): string {
  let t = Math.max(0, Math.floor(ms));
  let out = "";
  for (let i = 0; i < 10; i++) {
    out = ULID_ALPHABET[t % 32]! + out;
    t = Math.floor(t / 32);
  }
  return `${prefix}_${out}`;
}

/**
 * Credits granted, spent, refunded, expired and clawed back per time bucket, and the credits put
 * on hold by reservations created in each bucket. Only buckets with activity are returned.
 *
 * @example
 * const rows = await ledgerSeries(q, "app_1", { unit: "credits", fromMs: 0, toMs: Date.now(), bucketMs: 86_400_000 });
 */
export async function ledgerSeries(q: Sql, appId: string, f: LedgerSeriesFilter): Promise<LedgerBucketRow[]> {
  if (!Number.isInteger(f.bucketMs) || f.bucketMs <= 0) throw new Error(`bucketMs must be a positive integer, got ${f.bucketMs}`);
  // The divisor is inlined (a checked integer) so the GROUP BY expression is identical text on
  // both databases; integer division of BIGINT by an integer truncates on both.
  const bucket = `(created_at / ${f.bucketMs})`;
  const ledger = await q.all<{ b: number | string; granted: unknown; spent: unknown; refunded: unknown; expired: unknown; clawed: unknown }>(
    `SELECT ${bucket} AS b,
            SUM(CASE WHEN type IN ('grant', 'credit') THEN amount ELSE 0 END) AS granted,
            SUM(CASE WHEN type IN (${SPEND_IN}) THEN -amount ELSE 0 END) AS spent,
            SUM(CASE WHEN type = 'refund' THEN amount ELSE 0 END) AS refunded,
            SUM(CASE WHEN type = 'expiry' THEN -amount ELSE 0 END) AS expired,
            SUM(CASE WHEN type = 'clawback' THEN -amount ELSE 0 END) AS clawed
       FROM transactions
      WHERE app_id = ? AND txn_id >= ? AND unit = ? AND created_at >= ? AND created_at < ?
      GROUP BY ${bucket}`,
    [appId, idFloor("txn", f.fromMs), f.unit, f.fromMs, f.toMs],
  );
  const holds = await q.all<{ b: number | string; reserved: unknown }>(
    `SELECT ${bucket} AS b, SUM(amount) AS reserved
       FROM reservations
      WHERE app_id = ? AND rsv_id >= ? AND unit = ? AND created_at >= ? AND created_at < ?
      GROUP BY ${bucket}`,
    [appId, idFloor("rsv", f.fromMs), f.unit, f.fromMs, f.toMs],
  );
  const byBucket = new Map<number, LedgerBucketRow>();
  const row = (b: number | string): LedgerBucketRow => {
    const key = Math.floor(Number(b));
    let r = byBucket.get(key);
    if (r === undefined) {
      r = { startMs: key * f.bucketMs, granted: 0, spent: 0, refunded: 0, expired: 0, clawedBack: 0, reserved: 0 };
      byBucket.set(key, r);
    }
    return r;
  };
  for (const l of ledger) {
    const r = row(l.b);
    r.granted = num(l.granted);
    r.spent = num(l.spent);
    r.refunded = num(l.refunded);
    r.expired = num(l.expired);
    r.clawedBack = num(l.clawed);
  }
  for (const h of holds) row(h.b).reserved = num(h.reserved);
  return [...byBucket.values()].sort((a, b) => a.startMs - b.startMs);
}

export interface AccountSpendRow {
  accountId: string;
  externalId: string | null;
  name: string | null;
  email: string | null;
  spent: number;
  transactions: number;
}

/**
 * The accounts that spent the most of `unit` in `[fromMs, toMs)`, largest first.
 *
 * @example
 * const top = await topSpenders(q, "app_1", { unit: "credits", fromMs: 0, toMs: Date.now(), limit: 10 });
 */
export async function topSpenders(q: Sql, appId: string, f: { unit: string; fromMs: number; toMs: number; limit: number }): Promise<AccountSpendRow[]> {
  const rows = await q.all<{ account_id: string; external_id: string | null; name: string | null; email: string | null; spent: unknown; n: unknown }>(
    `SELECT s.account_id, a.external_id, a.name, a.email, s.spent, s.n
       FROM (SELECT account_id, SUM(-amount) AS spent, COUNT(*) AS n
               FROM transactions
              WHERE app_id = ? AND txn_id >= ? AND unit = ? AND type IN (${SPEND_IN}) AND created_at >= ? AND created_at < ?
              GROUP BY account_id
              ORDER BY SUM(-amount) DESC, account_id
              LIMIT ?) s
       LEFT JOIN accounts a ON a.app_id = ? AND a.account_id = s.account_id
      ORDER BY s.spent DESC, s.account_id`,
    [appId, idFloor("txn", f.fromMs), f.unit, f.fromMs, f.toMs, f.limit, appId],
  );
  return rows.map((r) => ({
    accountId: r.account_id,
    externalId: r.external_id,
    name: r.name,
    email: r.email,
    spent: num(r.spent),
    transactions: num(r.n),
  }));
}

export interface LowBalanceRow {
  accountId: string;
  externalId: string | null;
  name: string | null;
  email: string | null;
  balance: number;
  reserved: number;
  available: number;
}

/**
 * Accounts whose available credits (balance − reserved) in `unit` are below `threshold`, lowest
 * first. Only accounts that have used the unit have a balance row, so never-funded accounts are
 * not listed.
 *
 * @example
 * const low = await lowBalances(q, "app_1", { unit: "credits", threshold: 100, limit: 20 });
 */
export async function lowBalances(q: Sql, appId: string, f: { unit: string; threshold: number; limit: number }): Promise<LowBalanceRow[]> {
  const rows = await q.all<{ account_id: string; external_id: string | null; name: string | null; email: string | null; balance: unknown; reserved: unknown }>(
    `SELECT b.account_id, a.external_id, a.name, a.email, b.balance, b.reserved
       FROM balances b
       LEFT JOIN accounts a ON a.app_id = b.app_id AND a.account_id = b.account_id
      WHERE b.app_id = ? AND b.unit = ? AND b.balance - b.reserved < ?
      ORDER BY b.balance - b.reserved, b.account_id
      LIMIT ?`,
    [appId, f.unit, f.threshold, f.limit],
  );
  return rows.map((r) => {
    const balance = num(r.balance);
    const reserved = num(r.reserved);
    return { accountId: r.account_id, externalId: r.external_id, name: r.name, email: r.email, balance, reserved, available: balance - reserved };
  });
}

/** Credits on hold right now (live reservations not yet past `expiresAt`) and how many holds. */
export async function liveHolds(q: Sql, appId: string, unit: string, nowMs: number): Promise<{ amount: number; count: number }> {
  const row = await q.get<{ amount: unknown; n: unknown }>(
    "SELECT SUM(amount - captured_amount) AS amount, COUNT(*) AS n FROM reservations WHERE app_id = ? AND unit = ? AND status = 'held' AND expires_at > ?",
    [appId, unit, nowMs],
  );
  return { amount: num(row?.amount), count: num(row?.n) };
}

import type { Sql } from "../store/sql.ts";
import type { Scope } from "./context.ts";
import { inTransaction } from "./context.ts";
import { TallyError } from "./errors.ts";
import { requireAccount, type AccountRef } from "./accounts.ts";
import { lockBalance } from "../store/repo/balances.ts";

/**
 * Spend limits cap what one account may spend in one unit per hour, day and calendar month (UTC
 * windows). The guard runs inside the spend's own transaction, under the balance row lock every
 * spend of that account and unit already takes, so it is exact under concurrency. Accounts
 * without a limit never read the limits table: the balance row carries a flag bit.
 */
export const COMMERCE_FLAGS = { spendLimit: 1, autoTopup: 2 } as const;

export interface SpendLimits {
  perHour: number | null;
  perDay: number | null;
  perMonth: number | null;
}

export interface SpendLimitView extends SpendLimits {
  accountId: string;
  unit: string;
  spent: { hour: number; day: number; month: number };
}

interface Row {
  per_hour: number | null; per_day: number | null; per_month: number | null;
  hour_start: number; hour_spent: number; day_start: number; day_spent: number; month_start: number; month_spent: number;
}

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

function windows(nowMs: number): { hour: number; day: number; month: number } {
  const d = new Date(nowMs);
  return { hour: Math.floor(nowMs / HOUR_MS) * HOUR_MS, day: Math.floor(nowMs / DAY_MS) * DAY_MS, month: Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) };
}

function spentNow(r: Row, nowMs: number): { hour: number; day: number; month: number } {
  const w = windows(nowMs);
  return {
    hour: Number(r.hour_start) === w.hour ? Number(r.hour_spent) : 0,
    day: Number(r.day_start) === w.day ? Number(r.day_spent) : 0,
    month: Number(r.month_start) === w.month ? Number(r.month_spent) : 0,
  };
}

const n = (v: number | null): number | null => (v === null ? null : Number(v));

/**
 * Counts `amount` against the account's limits, or throws 402 SPEND_LIMIT_EXCEEDED (rolling the
 * spend back). Called by `UnitLedger.finish` only for flagged accounts.
 */
export async function enforceSpendLimits(ctx: { tx: Sql; appId: string; nowMs: number }, accountId: string, unit: string, amount: number): Promise<void> {
  const { tx, appId, nowMs } = ctx;
  const row = await tx.get<Row>("SELECT * FROM spend_limits WHERE app_id = ? AND account_id = ? AND unit = ?", [appId, accountId, unit]);
  if (row === undefined) return;
  const spent = spentNow(row, nowMs);
  const checks: Array<["hour" | "day" | "month", number | null]> = [["hour", n(row.per_hour)], ["day", n(row.per_day)], ["month", n(row.per_month)]];
  for (const [window, limit] of checks) {
    if (limit !== null && spent[window] + amount > limit) {
      throw new TallyError("SPEND_LIMIT_EXCEEDED", `Spend limit exceeded: ${spent[window]} of ${limit} ${unit} spent this ${window}, ${amount} more requested`, {
        window, limit, spent: spent[window], requested: amount, unit,
      });
    }
  }
  const w = windows(nowMs);
  await tx.run(
    "UPDATE spend_limits SET hour_start = ?, hour_spent = ?, day_start = ?, day_spent = ?, month_start = ?, month_spent = ?, updated_at = ? WHERE app_id = ? AND account_id = ? AND unit = ?",
    [w.hour, spent.hour + amount, w.day, spent.day + amount, w.month, spent.month + amount, nowMs, appId, accountId, unit],
  );
}

/**
 * Sets (or, with all three null, removes) an account's limits in one unit. Spending already done
 * in the current windows keeps counting.
 *
 * @example
 * await setSpendLimits(scope, { accountId: "acct_…" }, "credits", { perHour: 1000, perDay: null, perMonth: 50000 });
 */
export async function setSpendLimits(scope: Scope, ref: AccountRef, unit: string, limits: SpendLimits): Promise<SpendLimitView> {
  return inTransaction(scope, async (tx, nowMs) => {
    const account = await requireAccount(tx, scope.appId, ref);
    const balance = await lockBalance(tx, scope.appId, account.id, unit, nowMs);
    const none = limits.perHour === null && limits.perDay === null && limits.perMonth === null;
    const w = windows(nowMs);
    await tx.run(
      `INSERT INTO spend_limits (app_id, account_id, unit, per_hour, per_day, per_month, hour_start, hour_spent, day_start, day_spent, month_start, month_spent, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, 0, ?, 0, ?, 0, ?)
       ON CONFLICT (app_id, account_id, unit) DO UPDATE SET per_hour = excluded.per_hour, per_day = excluded.per_day, per_month = excluded.per_month, updated_at = excluded.updated_at`,
      [scope.appId, account.id, unit, limits.perHour, limits.perDay, limits.perMonth, w.hour, w.day, w.month, nowMs],
    );
    const flags = none ? (balance.commerceFlags ?? 0) & ~COMMERCE_FLAGS.spendLimit : (balance.commerceFlags ?? 0) | COMMERCE_FLAGS.spendLimit;
    await tx.run("UPDATE balances SET commerce_flags = ? WHERE app_id = ? AND account_id = ? AND unit = ?", [flags, scope.appId, account.id, unit]);
    const row = await tx.get<Row>("SELECT * FROM spend_limits WHERE app_id = ? AND account_id = ? AND unit = ?", [scope.appId, account.id, unit]);
    return { accountId: account.id, unit, ...limits, spent: row === undefined ? { hour: 0, day: 0, month: 0 } : spentNow(row, nowMs) };
  });
}

export async function getSpendLimits(scope: Scope, accountId: string, unit: string): Promise<SpendLimitView | undefined> {
  const row = await scope.db.read((q) => q.get<Row>("SELECT * FROM spend_limits WHERE app_id = ? AND account_id = ? AND unit = ?", [scope.appId, accountId, unit]));
  if (row === undefined) return undefined;
  return { accountId, unit, perHour: n(row.per_hour), perDay: n(row.per_day), perMonth: n(row.per_month), spent: spentNow(row, scope.clock.nowMs()) };
}

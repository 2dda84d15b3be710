import type { Sql } from "../store/sql.ts";
import type { BalanceRecord } from "../store/records.ts";
import { expiringNext } from "../store/repo/lots.ts";

/** A balance as the API shows it: `available = balance − reserved`, and what expires first. */
export interface BalanceView {
  accountId: string;
  unit: string;
  balance: number;
  reserved: number;
  available: number;
  expiringNext?: { amount: number; expiresAtMs: number };
}

/** The view of a balance row, without `expiringNext`. */
export function plainView(b: BalanceRecord): BalanceView {
  return { accountId: b.accountId, unit: b.unit, balance: b.balance, reserved: b.reserved, available: b.balance - b.reserved };
}

/** The public view of a balance row; `expiringNext` only costs a query when something expires. */
export async function viewBalance(q: Sql, appId: string, b: BalanceRecord, nowMs: number): Promise<BalanceView> {
  const view = plainView(b);
  // No due time: nothing expires (the due time is the earliest expiry of a live lot or hold).
  if (b.nextDueAtMs !== null) {
    const next = await expiringNext(q, appId, b.accountId, b.unit, nowMs);
    if (next !== null) view.expiringNext = next;
  }
  return view;
}

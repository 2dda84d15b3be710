import type { Sql } from "../sql.ts";

export interface BalanceAudit {
  appId: string;
  accountId: string;
  unit: string;
  balance: number;
  reserved: number;
  ledgerSum: number;
  lotSum: number;
  lotHeld: number;
  holdSum: number;
  /** The balance row's `next_due_at`: when the account must next be settled, at the latest. */
  nextDueAtMs: number | null;
  /** What falls due first: the earliest expiry of a live lot or of a held reservation. */
  firstDueMs: number | null;
}

/**
 * Everything `tally verify` compares, computed from the ledger in a few grouped scans (never on a
 * hot path). Returns rows for every account-unit that has a balance, lots or transactions.
 */
export async function auditBalances(q: Sql): Promise<BalanceAudit[]> {
  // ONE statement: at READ COMMITTED (PostgreSQL) each statement sees its own snapshot, so four
  // separate scans of a live database would compare balances and ledger from different moments.
  const parts = await q.all<{ k: string; app_id: string; account_id: string; unit: string; a: number; b: number; due: number | null; holds: string | null }>(
    `SELECT 'b' AS k, app_id, account_id, unit, balance AS a, reserved AS b, next_due_at AS due, NULL AS holds FROM balances
     UNION ALL
     SELECT 't', app_id, account_id, unit, SUM(amount), 0, NULL, NULL FROM transactions GROUP BY app_id, account_id, unit
     UNION ALL
     SELECT 'l', app_id, account_id, unit, SUM(remaining + held), SUM(held), MIN(CASE WHEN remaining > 0 THEN expires_at END), NULL FROM lots GROUP BY app_id, account_id, unit
     UNION ALL
     SELECT 'h', app_id, account_id, unit, 0, 0, expires_at, holds FROM reservations WHERE status = 'held'`,
  );
  const balances = parts.filter((p) => p.k === "b").map((p) => ({ ...p, balance: p.a, reserved: p.b }));
  const ledger = parts.filter((p) => p.k === "t").map((p) => ({ ...p, s: p.a }));
  const lots = parts.filter((p) => p.k === "l").map((p) => ({ ...p, s: p.a, h: p.b }));
  const holds = parts.filter((p) => p.k === "h").map((p) => ({ ...p, holds: p.holds ?? "[]" }));
  const rows = new Map<string, BalanceAudit>();
  const at = (appId: string, accountId: string, unit: string): BalanceAudit => {
    const k = `${appId}\u0000${accountId}\u0000${unit}`;
    let row = rows.get(k);
    if (row === undefined) {
      row = { appId, accountId, unit, balance: 0, reserved: 0, ledgerSum: 0, lotSum: 0, lotHeld: 0, holdSum: 0, nextDueAtMs: null, firstDueMs: null };
      rows.set(k, row);
    }
    return row;
  };
  const due = (row: BalanceAudit, ms: number | null): void => {
    if (ms !== null && (row.firstDueMs === null || Number(ms) < row.firstDueMs)) row.firstDueMs = Number(ms);
  };
  for (const b of balances) {
    Object.assign(at(b.app_id, b.account_id, b.unit), { balance: Number(b.balance), reserved: Number(b.reserved), nextDueAtMs: b.due === null ? null : Number(b.due) });
  }
  for (const l of ledger) at(l.app_id, l.account_id, l.unit).ledgerSum = Number(l.s);
  for (const l of lots) {
    const row = at(l.app_id, l.account_id, l.unit);
    Object.assign(row, { lotSum: Number(l.s), lotHeld: Number(l.h) });
    due(row, l.due);
  }
  for (const r of holds) {
    const parsed = JSON.parse(r.holds) as Array<{ amount: number }>;
    const row = at(r.app_id, r.account_id, r.unit);
    row.holdSum += parsed.reduce((s, h) => s + h.amount, 0);
    due(row, r.due);
  }
  return [...rows.values()];
}

export interface LotAudit {
  appId: string;
  lotId: string;
  amount: number;
  remaining: number;
  held: number;
  consumed: number;
  expired: number;
  live: number;
}

/** Lots whose parts are negative or do not add up to their amount, or whose `live` flag disagrees with `remaining`. */
export async function brokenLots(q: Sql): Promise<LotAudit[]> {
  const rows = await q.all<{ app_id: string; lot_id: string; amount: number; remaining: number; held: number; consumed: number; expired: number; live: number }>(
    `SELECT app_id, lot_id, amount, remaining, held, consumed, expired, live FROM lots
      WHERE remaining < 0 OR held < 0 OR consumed < 0 OR expired < 0 OR remaining + held + consumed + expired <> amount
         OR live <> CASE WHEN remaining > 0 THEN 1 ELSE 0 END`,
  );
  return rows.map((r) => ({
    appId: r.app_id,
    lotId: r.lot_id,
    amount: Number(r.amount),
    remaining: Number(r.remaining),
    held: Number(r.held),
    consumed: Number(r.consumed),
    expired: Number(r.expired),
    live: Number(r.live),
  }));
}

import { perDialect, type Sql } from "../sql.ts";
import type { BalanceRecord } from "../records.ts";

export interface BalanceRow {
  account_id: string;
  unit: string;
  balance: number;
  reserved: number;
  next_due_at: number | null;
  commerce_flags?: number;
}

export const toBalance = (r: BalanceRow): BalanceRecord => ({
  accountId: r.account_id,
  unit: r.unit,
  balance: Number(r.balance),
  reserved: Number(r.reserved),
  nextDueAtMs: r.next_due_at === null ? null : Number(r.next_due_at),
  commerceFlags: Number(r.commerce_flags ?? 0),
});

/** How `Sql.heldLocks` names an account's balance row in a unit, by account id or by external id. */
export function balanceLockName(appId: string, ref: { accountId?: string | undefined; externalId?: string | undefined }, unit: string): string {
  return ref.accountId !== undefined ? `${appId}|id|${ref.accountId}|${unit}` : `${appId}|ext|${ref.externalId ?? ""}|${unit}`;
}

/** Notes a balance row locked by `tx`, under every name the caller may ask for it by. */
export function noteLocked(tx: Sql, appId: string, row: BalanceRow, externalId?: string): void {
  if (tx.heldLocks === undefined) return;
  tx.heldLocks.add(balanceLockName(appId, { accountId: row.account_id }, row.unit), row.account_id);
  if (externalId !== undefined) tx.heldLocks.add(balanceLockName(appId, { externalId }, row.unit), row.account_id);
}

/** What a lock of the balance row reads (a `BalanceRow`). */
export const BALANCE_LOCK_COLUMNS = "account_id, unit, balance, reserved, next_due_at, commerce_flags";

/**
 * The balance row's version (PostgreSQL): its place and the transaction that wrote it, which
 * change with every update. Compared by `lockAndReadForSpend`, `lockReservation` and the batch's
 * note of an account's credits (`KnownCredits`).
 */
export const ROW_VERSION = (alias: string): string => `${alias}.ctid::text || ' ' || ${alias}.xmin::text`;

/**
 * Where the balance row is, by account id (parameters: app, account, unit) or by external id
 * (app, app, external id, unit). By external id the account is a scalar subquery, not a join:
 * PostgreSQL plans a join before its tables have statistics (a new database, until autovacuum
 * analyzes it) as a scan of every balance of the app in the unit, filtered by account; a
 * subquery's result is always a key for the primary key.
 */
export const BALANCE_ROW_BY = {
  id: "app_id = ? AND account_id = ? AND unit = ?",
  externalId: "app_id = ? AND account_id = (SELECT account_id FROM accounts WHERE app_id = ? AND external_id = ?) AND unit = ?",
} as const;

const LOCK_BY_ID = perDialect((d) => `SELECT ${BALANCE_LOCK_COLUMNS} FROM balances WHERE ${BALANCE_ROW_BY.id}${d.forUpdate}`);

export const LOCK_BY_EXTERNAL_ID = perDialect((d) => `SELECT ${BALANCE_LOCK_COLUMNS} FROM balances WHERE ${BALANCE_ROW_BY.externalId}${d.forUpdate}`);

async function selectForUpdate(tx: Sql, appId: string, accountId: string, unit: string): Promise<BalanceRow | undefined> {
  const row = await tx.get<BalanceRow>(LOCK_BY_ID(tx.dialect), [appId, accountId, unit]);
  if (row !== undefined) noteLocked(tx, appId, row);
  return row;
}

/**
 * Takes the account-and-unit balance row for update, creating it at zero if absent. This row is
 * the lock every change to the account's credits in that unit serialises on, on every server
 * process.
 */
export async function lockBalance(tx: Sql, appId: string, accountId: string, unit: string, nowMs: number): Promise<BalanceRecord> {
  let row = await selectForUpdate(tx, appId, accountId, unit);
  if (row === undefined) {
    await tx.run(
      "INSERT INTO balances (app_id, account_id, unit, balance, reserved, next_due_at, updated_at) VALUES (?, ?, ?, 0, 0, NULL, ?) ON CONFLICT DO NOTHING",
      [appId, accountId, unit, nowMs],
    );
    row = await selectForUpdate(tx, appId, accountId, unit);
  }
  if (row === undefined) throw new Error("balance row vanished after insert");
  return toBalance(row);
}

/**
 * The balance row of the account named by id or external id, locked, in one statement; undefined
 * when the account or its balance row in `unit` does not exist (the caller then resolves the
 * account and creates the row with `lockBalance`). Accounts are never deleted, so a balance row
 * proves its account exists.
 */
export async function lockBalanceOf(tx: Sql, appId: string, ref: { accountId?: string | undefined; externalId?: string | undefined }, unit: string): Promise<BalanceRecord | undefined> {
  const row =
    ref.accountId !== undefined
      ? await selectForUpdate(tx, appId, ref.accountId, unit)
      : await tx.get<BalanceRow>(LOCK_BY_EXTERNAL_ID(tx.dialect), [appId, appId, ref.externalId ?? "", unit]);
  if (row === undefined) return undefined;
  if (ref.accountId === undefined) noteLocked(tx, appId, row, ref.externalId);
  return toBalance(row);
}

const BALANCE_OF_BY_ID = `SELECT a.account_id, b.unit, b.balance, b.reserved, b.next_due_at FROM accounts a
  LEFT JOIN balances b ON b.app_id = a.app_id AND b.account_id = a.account_id AND b.unit = ?
  WHERE a.app_id = ? AND a.account_id = ?`;

/** The balance row's account by a subquery, not by the join: see BALANCE_ROW_BY. */
export const BALANCE_OF_BY_EXTERNAL_ID = `SELECT a.account_id, b.unit, b.balance, b.reserved, b.next_due_at FROM accounts a
  LEFT JOIN balances b ON b.app_id = a.app_id AND b.unit = ? AND b.account_id = (SELECT account_id FROM accounts WHERE app_id = ? AND external_id = ?)
  WHERE a.app_id = ? AND a.external_id = ?`;

/**
 * An account's id and its balance row in `unit`, in one read: undefined when the account does
 * not exist, `balance` undefined when it has never had credits in that unit.
 */
export async function getBalanceOf(
  q: Sql,
  appId: string,
  ref: { accountId?: string | undefined; externalId?: string | undefined },
  unit: string,
): Promise<{ accountId: string; balance: BalanceRecord | undefined } | undefined> {
  const row = await q.get<Omit<BalanceRow, "unit"> & { unit: string | null }>(
    ref.accountId !== undefined ? BALANCE_OF_BY_ID : BALANCE_OF_BY_EXTERNAL_ID,
    ref.accountId !== undefined ? [unit, appId, ref.accountId] : [unit, appId, ref.externalId ?? "", appId, ref.externalId ?? ""],
  );
  if (row === undefined) return undefined;
  return { accountId: row.account_id, balance: row.unit === null ? undefined : toBalance(row as BalanceRow) };
}

export async function getBalance(q: Sql, appId: string, accountId: string, unit: string): Promise<BalanceRecord | undefined> {
  const row = await q.get<BalanceRow>(
    "SELECT account_id, unit, balance, reserved, next_due_at FROM balances WHERE app_id = ? AND account_id = ? AND unit = ?",
    [appId, accountId, unit],
  );
  return row === undefined ? undefined : toBalance(row);
}

export async function listBalances(q: Sql, appId: string, accountId: string): Promise<BalanceRecord[]> {
  const rows = await q.all<BalanceRow>(
    "SELECT account_id, unit, balance, reserved, next_due_at FROM balances WHERE app_id = ? AND account_id = ? ORDER BY unit",
    [appId, accountId],
  );
  return rows.map(toBalance);
}

/** Writes a balance row's amounts; parameters as `saveBalance` passes them. */
export const SAVE_BALANCE_SQL = "UPDATE balances SET balance = ?, reserved = ?, next_due_at = ?, updated_at = ? WHERE app_id = ? AND account_id = ? AND unit = ?";

export async function saveBalance(tx: Sql, appId: string, b: BalanceRecord, nowMs: number): Promise<void> {
  await tx.run(SAVE_BALANCE_SQL, [b.balance, b.reserved, b.nextDueAtMs, nowMs, appId, b.accountId, b.unit]);
}

/** Balances with something due (a lot or hold expiring) at or before `nowMs`; for the sweeper. */
export async function listDueBalances(q: Sql, nowMs: number, limit: number): Promise<Array<{ appId: string; accountId: string; unit: string }>> {
  const rows = await q.all<{ app_id: string; account_id: string; unit: string }>(
    "SELECT app_id, account_id, unit FROM balances WHERE next_due_at IS NOT NULL AND next_due_at <= ? ORDER BY next_due_at LIMIT ?",
    [nowMs, limit],
  );
  return rows.map((r) => ({ appId: r.app_id, accountId: r.account_id, unit: r.unit }));
}

import type { Sql, SqlValue } from "../sql.ts";
import type { BalanceRecord, LotRecord, TransactionRecord } from "../records.ts";
import { balanceLockName, lockBalanceOf, toBalance, type BalanceRow } from "./balances.ts";
import { findTransactionByKey, TRANSACTION_COLUMNS, toTransaction, type TransactionRow } from "./transactions.ts";
import { listSpendableLots, LOT_COLUMNS, toLot, type LotRow } from "./lots.ts";

export interface SpendReads {
  /** The transaction already recorded under the operation's idempotency key. */
  existing: TransactionRecord | undefined;
  /** The account's spendable lots; undefined when `existing` was found (they are not needed). */
  lots: LotRecord[] | undefined;
}

/**
 * What a spend reads once it holds the account's balance lock: the transaction its idempotency
 * key already names, if any, and the lots it may burn. Both must be read AFTER the lock (each
 * PostgreSQL statement sees what was committed when it began: the lock's own statement started
 * before the previous holder committed), and the mirror of `writeLedger`: on PostgreSQL they come
 * back in ONE statement, because a round trip costs far more than either read; on SQLite they
 * are two plain reads, and the lots are not read when the key was found.
 */
export async function readForSpend(tx: Sql, appId: string, key: string | undefined, accountId: string, unit: string): Promise<SpendReads> {
  if (tx.dialect.name !== "postgres" || key === undefined) {
    const existing = key === undefined ? undefined : await findTransactionByKey(tx, appId, key);
    return { existing, lots: existing === undefined ? await listSpendableLots(tx, appId, accountId, unit) : undefined };
  }
  const rows = await tx.all<{ k: number; j: string }>(
    `SELECT 0 AS k, row_to_json(t)::text AS j FROM (SELECT ${TRANSACTION_COLUMNS} FROM transactions WHERE app_id = ? AND idempotency_key = ?) t
     UNION ALL
     SELECT 1, row_to_json(l)::text FROM (SELECT ${LOT_COLUMNS} FROM lots WHERE app_id = ? AND account_id = ? AND unit = ? AND live = 1) l`,
    [appId, key, appId, accountId, unit],
  );
  let existing: TransactionRecord | undefined;
  const lots: LotRecord[] = [];
  for (const row of rows) {
    if (Number(row.k) === 0) existing = toTransaction(JSON.parse(row.j) as TransactionRow);
    else lots.push(toLot(JSON.parse(row.j) as LotRow));
  }
  return { existing, lots: existing === undefined ? lots : undefined };
}

/**
 * When the account next has something fall due in `unit`: the earliest expiry of a live lot or
 * of a held reservation, in one statement; null when nothing will.
 */
export async function nextDueTime(tx: Sql, appId: string, accountId: string, unit: string): Promise<number | null> {
  const row = await tx.get<{ t: number | null }>(
    `SELECT MIN(t) AS t FROM (
       SELECT MIN(expires_at) AS t FROM lots WHERE app_id = ? AND account_id = ? AND unit = ? AND live = 1 AND expires_at IS NOT NULL
       UNION ALL
       SELECT MIN(expires_at) FROM reservations WHERE app_id = ? AND account_id = ? AND unit = ? AND status = 'held'
     ) due`,
    [appId, accountId, unit, appId, accountId, unit],
  );
  return row?.t == null ? null : Number(row.t);
}

export interface SpendStart extends SpendReads {
  /** The account's balance row in the unit, locked by this transaction. */
  balance: BalanceRecord;
}

/**
 * A spend's first reads: the account's balance row, locked, then what `readForSpend` reads.
 * Undefined when the account has no balance row in `unit` (or does not exist). Where this
 * transaction already holds that lock (PostgreSQL: an earlier request of the same batch took
 * it), all three come back in ONE statement: nobody else can have changed the row or its lots
 * since, so no lock is taken and no fresh snapshot is needed. A hot account's requests, which
 * lanes put in one batch, thus cost one round trip fewer after the first.
 */
export async function lockForSpend(
  tx: Sql,
  appId: string,
  ref: { accountId?: string | undefined; externalId?: string | undefined },
  unit: string,
  key: string | undefined,
): Promise<SpendStart | undefined> {
  const accountId = tx.heldLocks?.accountOf(balanceLockName(appId, ref, unit));
  if (accountId === undefined) {
    const balance = await lockBalanceOf(tx, appId, ref, unit);
    return balance === undefined ? undefined : { balance, ...(await readForSpend(tx, appId, key, balance.accountId, unit)) };
  }
  const parts = [`SELECT 0 AS k, row_to_json(b)::text AS j FROM (SELECT account_id, unit, balance, reserved, next_due_at, commerce_flags FROM balances WHERE app_id = ? AND account_id = ? AND unit = ?) b`];
  const params: SqlValue[] = [appId, accountId, unit];
  if (key !== undefined) {
    parts.push(`SELECT 1, row_to_json(t)::text FROM (SELECT ${TRANSACTION_COLUMNS} FROM transactions WHERE app_id = ? AND idempotency_key = ?) t`);
    params.push(appId, key);
  }
  parts.push(`SELECT 2, row_to_json(l)::text FROM (SELECT ${LOT_COLUMNS} FROM lots WHERE app_id = ? AND account_id = ? AND unit = ? AND live = 1) l`);
  params.push(appId, accountId, unit);
  let balance: BalanceRecord | undefined;
  let existing: TransactionRecord | undefined;
  const lots: LotRecord[] = [];
  for (const row of await tx.all<{ k: number; j: string }>(parts.join(" UNION ALL "), params)) {
    const kind = Number(row.k);
    if (kind === 0) balance = toBalance(JSON.parse(row.j) as BalanceRow);
    else if (kind === 1) existing = toTransaction(JSON.parse(row.j) as TransactionRow);
    else lots.push(toLot(JSON.parse(row.j) as LotRow));
  }
  if (balance === undefined) return undefined;
  return { balance, existing, lots: existing === undefined ? lots : undefined };
}

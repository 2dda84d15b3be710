import type { Sql } from "../sql.ts";
import type { LotRecord, TransactionRecord } from "../records.ts";
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

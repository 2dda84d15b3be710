import type { Sql, SqlValue } from "../sql.ts";
import type { BalanceRecord, LotRecord, TransactionRecord } from "../records.ts";
import { INSERT_TRANSACTION_SQL, insertTransaction, transactionParams } from "./transactions.ts";
import { liveFlag, saveLot } from "./lots.ts";
import { saveBalance } from "./balances.ts";

/** A changed lot, and whether it ran out or came back (its `live` flag changes). */
export interface LotWrite {
  lot: LotRecord;
  liveChanged: boolean;
}

export interface LedgerWrite {
  transactions: readonly TransactionRecord[];
  lots: readonly LotWrite[];
  balance: BalanceRecord;
}

/** Upper bounds for one combined statement; larger writes go statement by statement. */
const COMBINED_TRANSACTIONS_MAX = 4;
const COMBINED_LOTS_MAX = 16;

/**
 * Writes what one ledger operation changed: its new transactions, the lots it touched and the
 * balance row. On PostgreSQL that is ONE statement (data-modifying CTEs), because there every
 * statement is a network round trip, which costs far more than the statement itself; on SQLite
 * statements are function calls, so they run one by one.
 *
 * It always updates the balance row, changed or not. Lots and transactions are written only by a
 * `UnitLedger`, whose `finish` ends here, so every committed change to an account's lots or
 * transactions comes with a new version of its balance row: a spend that reads them with a
 * snapshot older than its lock relies on that (`lockAndReadForSpend` in ledger-reads.ts).
 */
export async function writeLedger(tx: Sql, appId: string, w: LedgerWrite, nowMs: number): Promise<void> {
  if (tx.dialect.name !== "postgres" || w.transactions.length > COMBINED_TRANSACTIONS_MAX || w.lots.length > COMBINED_LOTS_MAX) {
    for (const t of w.transactions) await insertTransaction(tx, appId, t);
    for (const l of w.lots) await saveLot(tx, appId, l.lot, l.liveChanged);
    await saveBalance(tx, appId, w.balance, nowMs);
    return;
  }
  await tx.run(combinedSql(w.transactions.length, w.lots.length), combinedParams(appId, w, nowMs));
}

const combined = new Map<string, string>();

/** The statement for `t` transactions and `l` lots (made once per shape, then prepared by name). */
function combinedSql(t: number, l: number): string {
  const key = `${t}:${l}`;
  let sql = combined.get(key);
  if (sql === undefined) {
    const parts: string[] = [];
    if (t > 0) {
      const head = INSERT_TRANSACTION_SQL.slice(0, INSERT_TRANSACTION_SQL.indexOf(" VALUES "));
      const row = INSERT_TRANSACTION_SQL.slice(INSERT_TRANSACTION_SQL.indexOf(" VALUES ") + 8);
      parts.push(`t AS (${head} VALUES ${Array.from({ length: t }, () => row).join(", ")})`);
    }
    if (l > 0) {
      const rows = Array.from({ length: l }, () => "(?::text, ?::bigint, ?::bigint, ?::bigint, ?::bigint, ?::integer)").join(", ");
      // PostgreSQL compares old and new values to decide whether an index must change, so the
      // live flag is always written here (unchanged, it still allows an in-place HOT update).
      parts.push(
        `l AS (UPDATE lots SET remaining = v.remaining, held = v.held, consumed = v.consumed, expired = v.expired, live = v.live
         FROM (VALUES ${rows}) AS v (lot_id, remaining, held, consumed, expired, live) WHERE lots.app_id = ? AND lots.lot_id = v.lot_id)`,
      );
    }
    const update = "UPDATE balances SET balance = ?, reserved = ?, next_due_at = ?, updated_at = ? WHERE app_id = ? AND account_id = ? AND unit = ?";
    sql = parts.length === 0 ? update : `WITH ${parts.join(", ")} ${update}`;
    combined.set(key, sql);
  }
  return sql;
}

function combinedParams(appId: string, w: LedgerWrite, nowMs: number): SqlValue[] {
  const params: SqlValue[] = [];
  for (const t of w.transactions) params.push(...transactionParams(appId, t));
  if (w.lots.length > 0) {
    for (const { lot } of w.lots) params.push(lot.id, lot.remaining, lot.held, lot.consumed, lot.expired, liveFlag(lot));
    params.push(appId);
  }
  const b = w.balance;
  params.push(b.balance, b.reserved, b.nextDueAtMs, nowMs, appId, b.accountId, b.unit);
  return params;
}

import type { Sql, SqlValue } from "../sql.ts";
import type { Allocation, Metadata, TransactionRecord, TransactionType } from "../records.ts";
import { parseJson } from "./json.ts";

export interface TransactionRow {
  txn_id: string;
  account_id: string;
  unit: string;
  type: TransactionType;
  amount: number;
  balance_after: number;
  idempotency_key: string | null;
  reference: string | null;
  operation: string | null;
  description: string | null;
  metadata: string;
  reservation_id: string | null;
  refund_of: string | null;
  grant_id: string | null;
  allocations: string;
  created_at: number;
}

export const TRANSACTION_COLUMNS =
  "txn_id, account_id, unit, type, amount, balance_after, idempotency_key, reference, operation, description, metadata, reservation_id, refund_of, grant_id, allocations, created_at";

export const toTransaction = (r: TransactionRow): TransactionRecord => ({
  id: r.txn_id,
  accountId: r.account_id,
  unit: r.unit,
  type: r.type,
  amount: Number(r.amount),
  balanceAfter: Number(r.balance_after),
  idempotencyKey: r.idempotency_key,
  reference: r.reference,
  operation: r.operation,
  description: r.description,
  metadata: parseJson<Metadata>(r.metadata, {}),
  reservationId: r.reservation_id,
  refundOf: r.refund_of,
  grantId: r.grant_id,
  allocations: parseJson<Allocation[]>(r.allocations, []),
  createdAtMs: Number(r.created_at),
});

export const INSERT_TRANSACTION_SQL = `INSERT INTO transactions (app_id, ${TRANSACTION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`;

/** The values of INSERT_TRANSACTION_SQL, in its order. */
export function transactionParams(appId: string, t: TransactionRecord): SqlValue[] {
  return [
    appId,
    t.id,
    t.accountId,
    t.unit,
    t.type,
    t.amount,
    t.balanceAfter,
    t.idempotencyKey,
    t.reference,
    t.operation,
    t.description,
    JSON.stringify(t.metadata),
    t.reservationId,
    t.refundOf,
    t.grantId,
    JSON.stringify(t.allocations),
    t.createdAtMs,
  ];
}

export async function insertTransaction(tx: Sql, appId: string, t: TransactionRecord): Promise<void> {
  await tx.run(INSERT_TRANSACTION_SQL, transactionParams(appId, t));
}

/*
 * Statements on the hot path are built once, here: the statement cache looks SQL up by its text,
 * and a text built per call (a template with substitutions) is a new string whose hash is
 * computed anew on every lookup (~1,500 instructions for a statement this long).
 */
const TRANSACTION_BY_ID_SQL = `SELECT ${TRANSACTION_COLUMNS} FROM transactions WHERE app_id = ? AND txn_id = ?`;
const TRANSACTION_BY_KEY_SQL = `SELECT ${TRANSACTION_COLUMNS} FROM transactions WHERE app_id = ? AND idempotency_key = ?`;

export async function getTransaction(q: Sql, appId: string, txnId: string): Promise<TransactionRecord | undefined> {
  const row = await q.get<TransactionRow>(TRANSACTION_BY_ID_SQL, [appId, txnId]);
  return row === undefined ? undefined : toTransaction(row);
}

export async function findTransactionByKey(q: Sql, appId: string, key: string): Promise<TransactionRecord | undefined> {
  const row = await q.get<TransactionRow>(TRANSACTION_BY_KEY_SQL, [appId, key]);
  return row === undefined ? undefined : toTransaction(row);
}

export async function listRefundsOf(q: Sql, appId: string, txnId: string): Promise<TransactionRecord[]> {
  const rows = await q.all<TransactionRow>(`SELECT ${TRANSACTION_COLUMNS} FROM transactions WHERE app_id = ? AND refund_of = ?`, [appId, txnId]);
  return rows.map(toTransaction);
}

export interface TransactionFilter {
  accountId?: string;
  unit?: string;
  type?: TransactionType;
  fromMs?: number;
  toMs?: number;
  beforeId?: string;
  offset?: number;
  limit: number;
}

function whereOf(appId: string, f: TransactionFilter): { sql: string; params: SqlValue[] } {
  const where = ["app_id = ?"];
  const params: SqlValue[] = [appId];
  if (f.accountId !== undefined) {
    where.push("account_id = ?");
    params.push(f.accountId);
  }
  if (f.unit !== undefined) {
    where.push("unit = ?");
    params.push(f.unit);
  }
  if (f.type !== undefined) {
    where.push("type = ?");
    params.push(f.type);
  }
  if (f.fromMs !== undefined) {
    where.push("created_at >= ?");
    params.push(f.fromMs);
  }
  if (f.toMs !== undefined) {
    where.push("created_at < ?");
    params.push(f.toMs);
  }
  return { sql: where.join(" AND "), params };
}

/** Newest first. With `beforeId`, a keyset page; with `offset`, an offset page. */
export async function listTransactions(q: Sql, appId: string, f: TransactionFilter): Promise<TransactionRecord[]> {
  const { sql, params } = whereOf(appId, f);
  let where = sql;
  if (f.beforeId !== undefined) {
    where += " AND txn_id < ?";
    params.push(f.beforeId);
  }
  params.push(f.limit);
  let tail = " LIMIT ?";
  if (f.offset !== undefined) {
    tail += " OFFSET ?";
    params.push(f.offset);
  }
  const rows = await q.all<TransactionRow>(`SELECT ${TRANSACTION_COLUMNS} FROM transactions WHERE ${where} ORDER BY txn_id DESC${tail}`, params);
  return rows.map(toTransaction);
}

export async function countTransactions(q: Sql, appId: string, f: TransactionFilter): Promise<number> {
  const { sql, params } = whereOf(appId, f);
  const row = await q.get<{ n: number }>(`SELECT COUNT(*) AS n FROM transactions WHERE ${sql}`, params);
  return Number(row?.n ?? 0);
}

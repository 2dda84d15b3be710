import type { Sql, SqlValue } from "../sql.ts";
import type { Hold, Metadata, ReservationRecord, ReservationStatus } from "../records.ts";
import { parseJson } from "./json.ts";

export interface ReservationRow {
  rsv_id: string;
  account_id: string;
  unit: string;
  amount: number;
  captured_amount: number;
  status: ReservationStatus;
  expires_at: number;
  confirmed_amount: number | null;
  transaction_id: string | null;
  operation: string | null;
  reference: string | null;
  description: string | null;
  metadata: string;
  holds: string;
  idempotency_key: string | null;
  resolution_key: string | null;
  resolution: string | null;
  created_at: number;
  resolved_at: number | null;
}

export const RESERVATION_COLUMNS =
  "rsv_id, account_id, unit, amount, captured_amount, status, expires_at, confirmed_amount, transaction_id, operation, reference, description, metadata, holds, idempotency_key, resolution_key, resolution, created_at, resolved_at";

export const toReservation = (r: ReservationRow): ReservationRecord => ({
  id: r.rsv_id,
  accountId: r.account_id,
  unit: r.unit,
  amount: Number(r.amount),
  capturedAmount: Number(r.captured_amount),
  status: r.status,
  expiresAtMs: Number(r.expires_at),
  confirmedAmount: r.confirmed_amount === null ? null : Number(r.confirmed_amount),
  transactionId: r.transaction_id,
  operation: r.operation,
  reference: r.reference,
  description: r.description,
  metadata: parseJson<Metadata>(r.metadata, {}),
  holds: parseJson<Hold[]>(r.holds, []),
  idempotencyKey: r.idempotency_key,
  resolutionKey: r.resolution_key,
  resolution: r.resolution,
  createdAtMs: Number(r.created_at),
  resolvedAtMs: r.resolved_at === null ? null : Number(r.resolved_at),
});

export const INSERT_RESERVATION_SQL = `INSERT INTO reservations (app_id, ${RESERVATION_COLUMNS}) VALUES (${RESERVATION_COLUMNS.split(", ").map(() => "?").join(", ")}, ?)`;

export function reservationInsertParams(appId: string, r: ReservationRecord): SqlValue[] {
  return [
    appId,
    r.id,
    r.accountId,
    r.unit,
    r.amount,
    r.capturedAmount,
    r.status,
    r.expiresAtMs,
    r.confirmedAmount,
    r.transactionId,
    r.operation,
    r.reference,
    r.description,
    JSON.stringify(r.metadata),
    JSON.stringify(r.holds),
    r.idempotencyKey,
    r.resolutionKey,
    r.resolution,
    r.createdAtMs,
    r.resolvedAtMs,
  ];
}

export async function insertReservation(tx: Sql, appId: string, r: ReservationRecord): Promise<void> {
  await tx.run(INSERT_RESERVATION_SQL, reservationInsertParams(appId, r));
}

/** Writes what changes over a reservation's life; the rest is fixed when it is made. */
export const SAVE_RESERVATION_SQL = `UPDATE reservations SET captured_amount = ?, status = ?, expires_at = ?, confirmed_amount = ?, transaction_id = ?, holds = ?,
  resolution_key = ?, resolution = ?, resolved_at = ? WHERE app_id = ? AND rsv_id = ?`;

export function reservationSaveParams(appId: string, r: ReservationRecord): SqlValue[] {
  return [r.capturedAmount, r.status, r.expiresAtMs, r.confirmedAmount, r.transactionId, JSON.stringify(r.holds), r.resolutionKey, r.resolution, r.resolvedAtMs, appId, r.id];
}

export async function saveReservation(tx: Sql, appId: string, r: ReservationRecord): Promise<void> {
  await tx.run(SAVE_RESERVATION_SQL, reservationSaveParams(appId, r));
}

/** Built once: the statement cache looks SQL up by its text (see transactions.ts). */
const RESERVATION_BY_ID_SQL = `SELECT ${RESERVATION_COLUMNS} FROM reservations WHERE app_id = ? AND rsv_id = ?`;
const RESERVATION_BY_KEY_SQL = `SELECT ${RESERVATION_COLUMNS} FROM reservations WHERE app_id = ? AND idempotency_key = ?`;

export async function getReservation(q: Sql, appId: string, rsvId: string): Promise<ReservationRecord | undefined> {
  const row = await q.get<ReservationRow>(RESERVATION_BY_ID_SQL, [appId, rsvId]);
  return row === undefined ? undefined : toReservation(row);
}

export async function findReservationByKey(q: Sql, appId: string, key: string): Promise<ReservationRecord | undefined> {
  const row = await q.get<ReservationRow>(RESERVATION_BY_KEY_SQL, [appId, key]);
  return row === undefined ? undefined : toReservation(row);
}

export async function listExpiredHeld(tx: Sql, appId: string, accountId: string, unit: string, nowMs: number): Promise<ReservationRecord[]> {
  const rows = await tx.all<ReservationRow>(
    `SELECT ${RESERVATION_COLUMNS} FROM reservations WHERE app_id = ? AND account_id = ? AND unit = ? AND status = 'held' AND expires_at <= ? ORDER BY expires_at`,
    [appId, accountId, unit, nowMs],
  );
  return rows.map(toReservation);
}

export interface ReservationFilter {
  accountId?: string;
  status?: ReservationStatus;
  /**
   * "Now", for the status filter: a hold past its expiry counts as expired at once, so it is
   * listed under `expired` and not under `held` even before anything has settled it.
   */
  asOfMs?: number;
  beforeId?: string;
  limit: number;
}

export async function listReservations(q: Sql, appId: string, f: ReservationFilter): Promise<ReservationRecord[]> {
  const where = ["app_id = ?"];
  const params: Array<string | number> = [appId];
  if (f.accountId !== undefined) {
    where.push("account_id = ?");
    params.push(f.accountId);
  }
  if (f.status === "held" && f.asOfMs !== undefined) {
    where.push("status = 'held' AND expires_at > ?");
    params.push(f.asOfMs);
  } else if (f.status === "expired" && f.asOfMs !== undefined) {
    where.push("(status = 'expired' OR (status = 'held' AND expires_at <= ?))");
    params.push(f.asOfMs);
  } else if (f.status !== undefined) {
    where.push("status = ?");
    params.push(f.status);
  }
  if (f.beforeId !== undefined) {
    where.push("rsv_id < ?");
    params.push(f.beforeId);
  }
  params.push(f.limit);
  const rows = await q.all<ReservationRow>(`SELECT ${RESERVATION_COLUMNS} FROM reservations WHERE ${where.join(" AND ")} ORDER BY rsv_id DESC LIMIT ?`, params);
  return rows.map(toReservation);
}

import type { Sql, SqlValue } from "../sql.ts";
import type { BalanceRecord, LotRecord, ReservationRecord, TransactionRecord } from "../records.ts";
import { INSERT_TRANSACTION_SQL, insertTransaction, transactionParams } from "./transactions.ts";
import { liveFlag, saveLot } from "./lots.ts";
import { balanceLockName, ROW_VERSION, SAVE_BALANCE_SQL, saveBalance } from "./balances.ts";
import { INSERT_RESERVATION_SQL, insertReservation, reservationInsertParams, reservationSaveParams, SAVE_RESERVATION_SQL, saveReservation } from "./reservations.ts";

/** A changed lot, and whether it ran out or came back (its `live` flag changes). */
export interface LotWrite {
  lot: LotRecord;
  liveChanged: boolean;
}

/** A reservation made (`insert`) or changed by the operation, written with the ledger. */
export interface ReservationWrite {
  record: ReservationRecord;
  insert: boolean;
}

/** A reservation's row on its own statement, where it cannot go in the combined write. */
export function writeReservationRow(tx: Sql, appId: string, r: ReservationWrite): Promise<void> {
  return r.insert ? insertReservation(tx, appId, r.record) : saveReservation(tx, appId, r.record);
}

export interface LedgerWrite {
  transactions: readonly TransactionRecord[];
  lots: readonly LotWrite[];
  balance: BalanceRecord;
  reservation?: ReservationWrite | undefined;
}

/**
 * A write whose reads came from the batch's memory (`KnownCredits`), not from the database: it
 * must find the balance row still at `version` and, when the operation is keyed, no transaction
 * under `key` (the key was not looked up). Else it writes nothing and throws `StaleCredits`.
 */
export interface WriteGuard {
  readonly version: string;
  readonly key: string | undefined;
}

/**
 * A guarded write found the account changed since the batch noted it, or its key already taken:
 * nothing was written, and the operation must start over reading from the database.
 */
export class StaleCredits extends Error {
  constructor() {
    super("the credits noted in the batch are stale, or the key is taken; read them again");
    this.name = "StaleCredits";
  }
}

/** Upper bounds for one combined statement; larger writes go statement by statement. */
const COMBINED_TRANSACTIONS_MAX = 4;
const COMBINED_LOTS_MAX = 16;

/** A guard's key condition (parameters: app, key), for the guarded write and `checkGuard` alike. */
const KEY_FREE = "NOT EXISTS (SELECT 1 FROM transactions WHERE app_id = ? AND idempotency_key = ?)";

/**
 * Writes what one ledger operation changed: its new transactions, the lots it touched, the
 * reservation it made or changed, and the balance row. On PostgreSQL that is ONE statement
 * (data-modifying CTEs), because there every statement is a network round trip, which costs far
 * more than the statement itself, and it returns the balance row's new version; on SQLite
 * statements are function calls, so they run one by one, and it returns undefined.
 *
 * It always updates the balance row, changed or not. Lots, transactions and reservations are
 * written only by a `UnitLedger`, whose `finish` ends here, so every committed change to an
 * account's lots, transactions or reservations comes with a new version of its balance row: an
 * operation that reads them with a snapshot older than its lock relies on that
 * (`lockAndReadForSpend`, `lockForHold` and `lockReservation` in ledger-reads.ts), and so does a
 * guarded write (`WriteGuard`).
 */
export async function writeLedger(tx: Sql, appId: string, w: LedgerWrite, nowMs: number, guard?: WriteGuard): Promise<string | undefined> {
  const oneByOne =
    tx.dialect.name !== "postgres" ||
    w.transactions.length > COMBINED_TRANSACTIONS_MAX ||
    w.lots.length > COMBINED_LOTS_MAX ||
    (guard !== undefined && (w.transactions.length > 1 || w.reservation !== undefined));
  if (oneByOne) {
    if (guard !== undefined) await checkGuard(tx, appId, w.balance, guard);
    if (w.reservation !== undefined) await writeReservationRow(tx, appId, w.reservation);
    for (const t of w.transactions) await insertTransaction(tx, appId, t);
    for (const l of w.lots) await saveLot(tx, appId, l.lot, l.liveChanged);
    await saveBalance(tx, appId, w.balance, nowMs);
    return undefined;
  }
  const row = await tx.get<{ version: string }>(combinedSql(w.transactions.length, w.lots.length, w.reservation, guard), combinedParams(appId, w, nowMs, guard));
  if (row === undefined) {
    if (guard !== undefined) throw staleCredits(tx, appId, w.balance);
    throw new Error(`balance row of ${w.balance.accountId} in ${w.balance.unit} vanished while locked`);
  }
  return row.version;
}

/**
 * A guard checked on its own, before writes that cannot carry it (more than one transaction, or
 * too many rows for one statement); also for operations that write something before `writeLedger`.
 */
export async function checkGuard(tx: Sql, appId: string, b: Pick<BalanceRecord, "accountId" | "unit">, guard: WriteGuard): Promise<void> {
  const keyed = guard.key !== undefined;
  const row = await tx.get<{ ok: boolean }>(
    `SELECT EXISTS (SELECT 1 FROM balances b WHERE b.app_id = ? AND b.account_id = ? AND b.unit = ? AND ${ROW_VERSION("b")} = ?)${keyed ? ` AND ${KEY_FREE}` : ""} AS ok`,
    keyed ? [appId, b.accountId, b.unit, guard.version, appId, guard.key!] : [appId, b.accountId, b.unit, guard.version],
  );
  if (row?.ok !== true) throw staleCredits(tx, appId, b);
}

/** Forgets the batch's note of the account's credits, which failed its guard, and says so. */
function staleCredits(tx: Sql, appId: string, b: Pick<BalanceRecord, "accountId" | "unit">): StaleCredits {
  tx.heldLocks?.forgetKnown(balanceLockName(appId, { accountId: b.accountId }, b.unit));
  return new StaleCredits();
}

const combined = new Map<string, string>();

/**
 * The statement for `t` transactions and `l` lots (made once per shape, then prepared by name).
 * Unguarded, the balance row's UPDATE is the main statement. Guarded, it comes first, with the
 * guard in its WHERE, and the other writes happen only if it updated the row (they select from
 * it), so a failed guard writes nothing and returns no row.
 */
function combinedSql(t: number, l: number, reservation: ReservationWrite | undefined, guard: WriteGuard | undefined): string {
  const guarded = guard !== undefined;
  const keyed = guard?.key !== undefined;
  const rsv = reservation === undefined ? "" : reservation.insert ? "insert" : "update";
  const key = `${t}:${l}:${rsv}:${guarded}:${keyed}`;
  let sql = combined.get(key);
  if (sql === undefined) {
    const parts: string[] = [];
    const returning = `RETURNING ${ROW_VERSION("balances")} AS version`;
    if (guarded) {
      parts.push(`bal AS (${SAVE_BALANCE_SQL} AND ${ROW_VERSION("balances")} = ?${keyed ? ` AND ${KEY_FREE}` : ""} ${returning})`);
    }
    const head = INSERT_TRANSACTION_SQL.slice(0, INSERT_TRANSACTION_SQL.indexOf(" VALUES "));
    const row = INSERT_TRANSACTION_SQL.slice(INSERT_TRANSACTION_SQL.indexOf(" VALUES ") + 8);
    if (t > 0) {
      // Guarded there is at most one: INSERT … SELECT takes its parameters' types from the
      // columns, where a UNION of several rows would leave them untyped.
      parts.push(guarded ? `t AS (${head} SELECT ${row.slice(1, -1)} FROM bal)` : `t AS (${head} VALUES ${Array.from({ length: t }, () => row).join(", ")})`);
    }
    if (l > 0) {
      const rows = Array.from({ length: l }, () => "(?::text, ?::bigint, ?::bigint, ?::bigint, ?::bigint, ?::integer)").join(", ");
      // PostgreSQL compares old and new values to decide whether an index must change, so the
      // live flag is always written here (unchanged, it still allows an in-place HOT update).
      parts.push(
        `l AS (UPDATE lots SET remaining = v.remaining, held = v.held, consumed = v.consumed, expired = v.expired, live = v.live
         FROM (VALUES ${rows}) AS v (lot_id, remaining, held, consumed, expired, live)${guarded ? ", bal" : ""} WHERE lots.app_id = ? AND lots.lot_id = v.lot_id)`,
      );
    }
    // Never guarded (a guarded write with a reservation goes one by one), so unconditional.
    if (rsv !== "") parts.push(`r AS (${rsv === "insert" ? INSERT_RESERVATION_SQL : SAVE_RESERVATION_SQL})`);
    if (guarded) sql = `WITH ${parts.join(", ")} SELECT version FROM bal`;
    else sql = parts.length === 0 ? `${SAVE_BALANCE_SQL} ${returning}` : `WITH ${parts.join(", ")} ${SAVE_BALANCE_SQL} ${returning}`;
    combined.set(key, sql);
  }
  return sql;
}

function combinedParams(appId: string, w: LedgerWrite, nowMs: number, guard: WriteGuard | undefined): SqlValue[] {
  const params: SqlValue[] = [];
  const b = w.balance;
  const balance = [b.balance, b.reserved, b.nextDueAtMs, nowMs, appId, b.accountId, b.unit];
  if (guard !== undefined) {
    params.push(...balance, guard.version);
    if (guard.key !== undefined) params.push(appId, guard.key);
  }
  for (const t of w.transactions) params.push(...transactionParams(appId, t));
  if (w.lots.length > 0) {
    for (const { lot } of w.lots) params.push(lot.id, lot.remaining, lot.held, lot.consumed, lot.expired, liveFlag(lot));
    params.push(appId);
  }
  if (w.reservation !== undefined) {
    const r = w.reservation.record;
    params.push(...(w.reservation.insert ? reservationInsertParams(appId, r) : reservationSaveParams(appId, r)));
  }
  if (guard === undefined) params.push(...balance);
  return params;
}

/**
 * After a ledger operation's write on PostgreSQL: notes what the account's credits now are, for
 * the batch's next spend of it (`lockForSpend`), when the operation had all of the account's
 * live lots in hand (`liveLots`, asked for only on PostgreSQL) and the write returned the row's
 * version; else forgets any note, which no longer holds.
 */
export function noteCredits(tx: Sql, appId: string, balance: BalanceRecord, liveLots: (() => readonly LotRecord[]) | undefined, version: string | undefined): void {
  const held = tx.heldLocks;
  if (held === undefined) return;
  const name = balanceLockName(appId, { accountId: balance.accountId }, balance.unit);
  if (liveLots === undefined || version === undefined || held.accountOf(name) === undefined) held.forgetKnown(name);
  else held.noteKnown(name, { balance: { ...balance }, lots: liveLots().map((lot) => ({ ...lot })), version });
}

import type { Sql, SqlValue } from "../sql.ts";
import type { BalanceRecord, LotRecord, ReservationRecord, TransactionRecord } from "../records.ts";
import { BALANCE_LOCK_COLUMNS, BALANCE_ROW_BY, balanceLockName, lockBalanceOf, noteLocked, ROW_VERSION, toBalance, type BalanceRow } from "./balances.ts";
import { findTransactionByKey, TRANSACTION_COLUMNS, toTransaction, type TransactionRow } from "./transactions.ts";
import { listSpendableLots, LOT_COLUMNS, toLot, type LotRow } from "./lots.ts";
import type { WriteGuard } from "./ledger-writes.ts";
import { findReservationByKey, getReservation, RESERVATION_COLUMNS, toReservation, type ReservationRow } from "./reservations.ts";

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

const NEXT_HOLD_EXPIRY_SQL = "SELECT MIN(expires_at) AS t FROM reservations WHERE app_id = ? AND account_id = ? AND unit = ? AND status = 'held'";
/** Built once: the statement cache looks SQL up by its text (see transactions.ts). */
const NEXT_OTHER_HOLD_EXPIRY_SQL = `${NEXT_HOLD_EXPIRY_SQL} AND rsv_id <> ?`;

/**
 * The earliest expiry of the account's held reservations in `unit`, leaving out `exceptId` (one
 * the operation is about to write, which it accounts for itself): the half of `nextDueTime` that
 * an operation with every live lot in hand cannot work out itself. Null when none is held.
 */
export async function nextHoldExpiry(tx: Sql, appId: string, accountId: string, unit: string, exceptId?: string): Promise<number | null> {
  const row =
    exceptId === undefined
      ? await tx.get<{ t: number | null }>(NEXT_HOLD_EXPIRY_SQL, [appId, accountId, unit])
      : await tx.get<{ t: number | null }>(NEXT_OTHER_HOLD_EXPIRY_SQL, [appId, accountId, unit, exceptId]);
  return row?.t == null ? null : Number(row.t);
}

export interface SpendStart extends SpendReads {
  /** The account's balance row in the unit, locked by this transaction. */
  balance: BalanceRecord;
  /**
   * Set when the balance and lots came from the batch's memory (`KnownCredits`) rather than the
   * database, and the key was not looked up: the spend's write must carry this guard.
   */
  guard?: WriteGuard;
}

/**
 * A spend's first reads: the account's balance row, locked, then what `readForSpend` reads.
 * Undefined when the account has no balance row in `unit` (or does not exist). On PostgreSQL
 * all three come back in ONE statement: where this transaction already holds that lock (an
 * earlier request of the same batch took it), nobody else can have changed the row or its lots
 * since, so no lock is taken and no fresh snapshot is needed; otherwise the statement takes the
 * lock too (`lockAndReadForSpend`), and reads again only if the lock had to wait for a change.
 * On SQLite they are plain reads in turn.
 *
 * `nowMs`, when given, allows no statement at all where the batch wrote this account's credits
 * last and noted them (`KnownCredits`; a hot account's spends, one after another in one batch):
 * the result then carries a guard that its write must check. Not when anything is due by
 * `nowMs` (settling would write before the guarded write), nor for a dry run (which writes
 * nothing, so would check nothing).
 */
export async function lockForSpend(
  tx: Sql,
  appId: string,
  ref: { accountId?: string | undefined; externalId?: string | undefined },
  unit: string,
  key: string | undefined,
  nowMs?: number,
): Promise<SpendStart | undefined> {
  const accountId = tx.heldLocks?.accountOf(balanceLockName(appId, ref, unit));
  if (accountId === undefined && tx.dialect.name === "postgres") return lockAndReadForSpend(tx, appId, ref, unit, key);
  if (accountId === undefined) {
    const balance = await lockBalanceOf(tx, appId, ref, unit);
    return balance === undefined ? undefined : { balance, ...(await readForSpend(tx, appId, key, balance.accountId, unit)) };
  }
  if (nowMs !== undefined) {
    const known = tx.heldLocks!.knownCredits(balanceLockName(appId, { accountId }, unit));
    if (known !== undefined && (known.balance.nextDueAtMs === null || known.balance.nextDueAtMs > nowMs)) {
      // Copies: the ledger changes its balance and lots in place, and may fail before writing.
      return { balance: { ...known.balance }, existing: undefined, lots: known.lots.map((lot) => ({ ...lot })), guard: { version: known.version, key } };
    }
  }
  const params: SqlValue[] = [appId, accountId, unit];
  if (key !== undefined) params.push(appId, key);
  params.push(appId, accountId, unit);
  const { balance, existing, lots } = sortSpendRows(await tx.all<SpendRow>(spendReadsStatement("held", key !== undefined), params));
  if (balance === undefined) return undefined;
  return { balance: toBalance(balance), existing, lots: existing === undefined ? lots : undefined };
}

/** A row of the spend's reads on PostgreSQL, a UNION ALL: its kind, and itself as JSON. */
interface SpendRow {
  k: number;
  j: string | null;
}

/**
 * Sorts the spend's reads by kind: 0 the balance row, 1 the transaction under the key, 2 a live
 * lot, 3 the balance row's version as the statement's snapshot has it (`lockAndReadForSpend`),
 * 4 the reservation under the key (a hold's reads, `lockForHold`), 5 the earliest expiry of the
 * account's other held reservations and 6 the reservation itself (`lockReservation`).
 */
function sortSpendRows(rows: readonly SpendRow[]) {
  let balance: (BalanceRow & { lock_version?: string }) | undefined;
  let snapshotVersion: string | null = null;
  let existing: TransactionRecord | undefined;
  let existingHold: ReservationRecord | undefined;
  let reservation: ReservationRecord | undefined;
  let otherHoldsMs: number | null = null;
  const lots: LotRecord[] = [];
  for (const row of rows) {
    const kind = Number(row.k);
    if (kind === 3) snapshotVersion = row.j;
    else if (kind === 5) otherHoldsMs = row.j === null ? null : Number(row.j);
    else if (kind === 0) balance = JSON.parse(row.j!) as BalanceRow & { lock_version?: string };
    else if (kind === 1) existing = toTransaction(JSON.parse(row.j!) as TransactionRow);
    else if (kind === 4) existingHold = toReservation(JSON.parse(row.j!) as ReservationRow);
    else if (kind === 6) reservation = toReservation(JSON.parse(row.j!) as ReservationRow);
    else lots.push(toLot(JSON.parse(row.j!) as LotRow));
  }
  return { balance, snapshotVersion, existing, existingHold, reservation, otherHoldsMs, lots };
}

/**
 * How a spend's reads find the balance row: under a lock the batch already holds (a plain read
 * by account id), or taking the lock, by account id or by external id.
 */
type SpendReadsShape = "held" | keyof typeof BALANCE_ROW_BY;

const spendReadsSql = new Map<string, string>();

/** Where an operation's idempotency key is looked up: a spend's in transactions, a hold's in reservations. */
type KeyIn = "transactions" | "reservations";

/**
 * A spend's reads on PostgreSQL as ONE statement (a UNION ALL sorted by `sortSpendRows`), made
 * once per shape. Parameters, in order: the balance row's (app, account, unit; when locking by
 * external id: app, app, external id, unit), when locking the snapshot version's (app, unit),
 * when keyed the key's (app, key), then the lots' (app, and for "held" the account, then unit).
 */
export function spendReadsStatement(shape: SpendReadsShape, keyed: boolean, keyIn: KeyIn = "transactions"): string {
  const cacheKey = `${shape}:${keyed}:${keyIn}`;
  let sql = spendReadsSql.get(cacheKey);
  if (sql === undefined) {
    const held = shape === "held";
    const account = held ? "?" : "(SELECT account_id FROM b)";
    const parts = [
      held
        ? `SELECT 0 AS k, row_to_json(b)::text AS j FROM (SELECT ${BALANCE_LOCK_COLUMNS} FROM balances WHERE ${BALANCE_ROW_BY.id}) b`
        : "SELECT 0 AS k, row_to_json(b)::text AS j FROM b",
    ];
    // The balance row as this statement's snapshot has it, beside the locked one.
    if (!held) parts.push(`SELECT 3, (SELECT ${ROW_VERSION("s")} FROM balances s WHERE s.app_id = ? AND s.account_id = ${account} AND s.unit = ?)`);
    if (keyed && keyIn === "transactions") parts.push(`SELECT 1, row_to_json(t)::text FROM (SELECT ${TRANSACTION_COLUMNS} FROM transactions WHERE app_id = ? AND idempotency_key = ?) t`);
    if (keyed && keyIn === "reservations") parts.push(`SELECT 4, row_to_json(r)::text FROM (SELECT ${RESERVATION_COLUMNS} FROM reservations WHERE app_id = ? AND idempotency_key = ?) r`);
    parts.push(`SELECT 2, row_to_json(l)::text FROM (SELECT ${LOT_COLUMNS} FROM lots WHERE app_id = ? AND account_id = ${account} AND unit = ? AND live = 1) l`);
    // Taking the lock: the balance row, locked, and its version.
    sql =
      shape === "held"
        ? parts.join(" UNION ALL ")
        : `WITH b AS (SELECT ${BALANCE_LOCK_COLUMNS}, ${ROW_VERSION("balances")} AS lock_version FROM balances WHERE ${BALANCE_ROW_BY[shape]} FOR UPDATE) ${parts.join(" UNION ALL ")}`;
    spendReadsSql.set(cacheKey, sql);
  }
  return sql;
}

/**
 * PostgreSQL: `lockBalanceOf` and `readForSpend` in ONE statement, which saves a round trip on
 * every spend that does not already hold its lock (on a spread of accounts: each one).
 *
 * The reads of a statement see its snapshot, taken when it began, while its row lock returns
 * the row's latest committed version, which may be newer when the lock had to wait for another
 * transaction (or one committed between the snapshot and the lock). The lots and the key read
 * with that snapshot are then current only if the balance row's version in the snapshot IS the
 * locked one: lots and transactions are written only by a `UnitLedger`, whose `finish` always
 * updates the balance row in the same transaction (`writeLedger`), so a newer committed change
 * to them means a newer balance row. When the versions differ, the reads are
 * made again under the lock (`readForSpend`): one more round trip, only after a wait.
 */
const lockAndReadForSpend: typeof lockForSpend = async (tx, appId, ref, unit, key) => {
  const byExternalId = ref.accountId === undefined;
  const params: SqlValue[] = byExternalId ? [appId, appId, ref.externalId ?? "", unit] : [appId, ref.accountId ?? "", unit];
  params.push(appId, unit);
  if (key !== undefined) params.push(appId, key);
  params.push(appId, unit);
  const rows = await tx.all<SpendRow>(spendReadsStatement(byExternalId ? "externalId" : "id", key !== undefined), params);
  const { balance: locked, snapshotVersion, existing, lots } = sortSpendRows(rows);
  if (locked === undefined) return undefined;
  noteLocked(tx, appId, locked, ref.externalId);
  const balance = toBalance(locked);
  if (snapshotVersion !== locked.lock_version) return { balance, ...(await readForSpend(tx, appId, key, balance.accountId, unit)) };
  return { balance, existing, lots: existing === undefined ? lots : undefined };
};

/** What a hold (a reservation) reads under its account's lock: the reservation its key already names, if any, and the lots it may hold. */
export interface HoldReads {
  existing: ReservationRecord | undefined;
  /** The account's spendable lots; undefined when `existing` was found. */
  lots: LotRecord[] | undefined;
}

/** `readForSpend` for a hold, as plain reads in turn: the key is looked up among reservations. */
export async function readForHold(tx: Sql, appId: string, key: string | undefined, accountId: string, unit: string): Promise<HoldReads> {
  const existing = key === undefined ? undefined : await findReservationByKey(tx, appId, key);
  return { existing, lots: existing === undefined ? await listSpendableLots(tx, appId, accountId, unit) : undefined };
}

/**
 * A hold's first reads, as `lockForSpend` makes a spend's (without the batch's note: a hold is
 * not the hot path's repeated spend): the balance row, locked, then `readForHold`. On PostgreSQL
 * ONE statement, by the same rules as `lockAndReadForSpend`; on SQLite plain reads in turn.
 * Undefined when the account has no balance row in `unit` (or does not exist).
 */
export async function lockForHold(
  tx: Sql,
  appId: string,
  ref: { accountId?: string | undefined; externalId?: string | undefined },
  unit: string,
  key: string | undefined,
): Promise<({ balance: BalanceRecord } & HoldReads) | undefined> {
  if (tx.dialect.name !== "postgres") {
    const balance = await lockBalanceOf(tx, appId, ref, unit);
    return balance === undefined ? undefined : { balance, ...(await readForHold(tx, appId, key, balance.accountId, unit)) };
  }
  const accountId = tx.heldLocks?.accountOf(balanceLockName(appId, ref, unit));
  const keyed = key !== undefined;
  if (accountId !== undefined) {
    const params: SqlValue[] = [appId, accountId, unit];
    if (keyed) params.push(appId, key);
    params.push(appId, accountId, unit);
    const { balance, existingHold, lots } = sortSpendRows(await tx.all<SpendRow>(spendReadsStatement("held", keyed, "reservations"), params));
    if (balance === undefined) return undefined;
    return { balance: toBalance(balance), existing: existingHold, lots: existingHold === undefined ? lots : undefined };
  }
  const byExternalId = ref.accountId === undefined;
  const params: SqlValue[] = byExternalId ? [appId, appId, ref.externalId ?? "", unit] : [appId, ref.accountId ?? "", unit];
  params.push(appId, unit);
  if (keyed) params.push(appId, key);
  params.push(appId, unit);
  const { balance: locked, snapshotVersion, existingHold, lots } = sortSpendRows(await tx.all<SpendRow>(spendReadsStatement(byExternalId ? "externalId" : "id", keyed, "reservations"), params));
  if (locked === undefined) return undefined;
  noteLocked(tx, appId, locked, ref.externalId);
  const balance = toBalance(locked);
  if (snapshotVersion !== locked.lock_version) return { balance, ...(await readForHold(tx, appId, key, balance.accountId, unit)) };
  return { balance, existing: existingHold, lots: existingHold === undefined ? lots : undefined };
}

/**
 * What a confirm, capture, cancel or extend reads under the lock, besides the reservation, when
 * PostgreSQL could read it with the lock (`lockReservation`): the transaction under the
 * operation's key, the account's live lots, and the earliest expiry among its other held
 * reservations.
 */
export interface ResolveReads {
  existing: TransactionRecord | undefined;
  /** Every live lot; undefined when there are more than `lotsMax` (the operation then reads the ones it needs). */
  lots: LotRecord[] | undefined;
  otherHoldsMs: number | null;
}

export interface LockedReservation {
  /** The balance row the reservation holds credits in, locked by this transaction. */
  balance: BalanceRecord;
  /** The reservation as it is under that lock; undefined when it must be read again (after a wait). */
  reservation: ReservationRecord | undefined;
  /** PostgreSQL, when current: the operation's other reads (undefined on SQLite, where reads are calls). */
  reads: ResolveReads | undefined;
}

/**
 * SQLite: the balance row through the reservation. The reservation is then read on its own: as
 * columns of this join it cost 14.2 µs per lock against 7.6 + 3.3 for the two statements
 * (`bench:ledger --workload pairs --statements`).
 */
const LOCK_RESERVATION_SQLITE = `SELECT ${BALANCE_LOCK_COLUMNS.split(", ").map((c) => `b.${c}`).join(", ")}
  FROM reservations r JOIN balances b ON b.app_id = r.app_id AND b.account_id = r.account_id AND b.unit = r.unit
  WHERE r.app_id = ? AND r.rsv_id = ?`;

/**
 * PostgreSQL: the lock through a reservation and every read its operation makes, in ONE
 * statement (a UNION ALL sorted by `sortSpendRows`; kind 5 is the other holds' earliest expiry,
 * kind 6 the reservation). The account is found through the reservation by scalar subqueries,
 * keys for each table's index whatever the statistics (see BALANCE_ROW_BY). Parameters: app,
 * reservation; app (the lock); app (the snapshot's version); when keyed app, key; app (lots, at
 * most `lotsLimit`); app, reservation (the other holds).
 */
const LOCK_RESERVATION_PG = new Map<string, string>();

function lockReservationStatement(keyed: boolean, lotsLimit: number): string {
  if (!(Number.isSafeInteger(lotsLimit) && lotsLimit > 0)) throw new Error(`a lot limit is a positive integer, got ${lotsLimit}`);
  const cacheKey = `${keyed}:${lotsLimit}`;
  let sql = LOCK_RESERVATION_PG.get(cacheKey);
  if (sql === undefined) {
    // The reservation's account and unit, in a table aliased `t` (or not aliased).
    const ofReservation = (t = ""): string => `${t}account_id = (SELECT account_id FROM r) AND ${t}unit = (SELECT unit FROM r)`;
    const account = ofReservation();
    const parts = [
      "SELECT 0 AS k, row_to_json(b)::text AS j FROM b",
      `SELECT 3, (SELECT ${ROW_VERSION("s")} FROM balances s WHERE s.app_id = ? AND ${ofReservation("s.")})`,
      `SELECT 6, row_to_json(x)::text FROM (SELECT ${RESERVATION_COLUMNS} FROM r) x`,
    ];
    if (keyed) parts.push(`SELECT 1, row_to_json(t)::text FROM (SELECT ${TRANSACTION_COLUMNS} FROM transactions WHERE app_id = ? AND idempotency_key = ?) t`);
    // A literal limit, as `listSpendableLots` writes it.
    parts.push(`SELECT 2, row_to_json(l)::text FROM (SELECT ${LOT_COLUMNS} FROM lots WHERE app_id = ? AND ${account} AND live = 1 LIMIT ${lotsLimit}) l`);
    parts.push(`SELECT 5, (SELECT MIN(h.expires_at)::text FROM reservations h WHERE h.app_id = ? AND ${ofReservation("h.")} AND h.status = 'held' AND h.rsv_id <> ?)`);
    sql =
      `WITH r AS (SELECT app_id, ${RESERVATION_COLUMNS} FROM reservations WHERE app_id = ? AND rsv_id = ?), ` +
      `b AS (SELECT ${BALANCE_LOCK_COLUMNS}, ${ROW_VERSION("balances")} AS lock_version FROM balances WHERE app_id = ? AND ${account} FOR UPDATE) ` +
      parts.join(" UNION ALL ");
    LOCK_RESERVATION_PG.set(cacheKey, sql);
  }
  return sql;
}

/**
 * The balance row a reservation holds credits in, locked, and the reservation; undefined when
 * no such reservation. On PostgreSQL, the operation's other reads come in the same statement
 * (`key`: the transaction key it will record under, if any; `lotsMax`: how many live lots it may
 * use at once, beyond which it reads only those it needs). Its reads see the statement's
 * snapshot, which is older than the lock when the lock had to wait for another transaction: they
 * are current only if the balance row's version in that snapshot IS the locked one (every change
 * to a reservation, a lot or a transaction is made by a ledger operation, whose `finish` always
 * writes the balance row in the same transaction; see `lockAndReadForSpend`). Else only the lock
 * is kept and the caller reads again. On SQLite the batch's writer is alone, so the reservation
 * read after the lock is always current, and the other reads are plain calls the caller makes.
 */
export async function lockReservation(tx: Sql, appId: string, rsvId: string, key: string | undefined, lotsMax: number): Promise<LockedReservation | undefined> {
  if (tx.dialect.name !== "postgres") {
    const row = await tx.get<BalanceRow>(LOCK_RESERVATION_SQLITE, [appId, rsvId]);
    if (row === undefined) return undefined;
    noteLocked(tx, appId, row);
    return { balance: toBalance(row), reservation: await getReservation(tx, appId, rsvId), reads: undefined };
  }
  const params: SqlValue[] = [appId, rsvId, appId, appId];
  if (key !== undefined) params.push(appId, key);
  params.push(appId, appId, rsvId);
  const rows = await tx.all<SpendRow>(lockReservationStatement(key !== undefined, lotsMax + 1), params);
  const { balance: locked, snapshotVersion, existing, reservation, otherHoldsMs, lots } = sortSpendRows(rows);
  if (locked === undefined) return undefined;
  noteLocked(tx, appId, locked);
  const balance = toBalance(locked);
  if (snapshotVersion !== locked.lock_version || reservation === undefined) return { balance, reservation: undefined, reads: undefined };
  return { balance, reservation, reads: { existing, lots: lots.length <= lotsMax ? lots : undefined, otherHoldsMs } };
}

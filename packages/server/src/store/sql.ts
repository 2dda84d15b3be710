/**
 * The storage seam. Repositories speak plain SQL with `?` placeholders through `Sql`; each
 * database folder (`sqlite/`, `postgres/`) provides a `Database` that runs it. Dialect
 * differences the repositories must know about are few and named in `Dialect`.
 */
import type { BalanceRecord, LotRecord } from "./records.ts";

export type SqlValue = string | number | bigint | boolean | null | Uint8Array;

export interface Sql {
  readonly dialect: Dialect;
  all<T extends object>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  get<T extends object>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined>;
  run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }>;
  /**
   * The rows this transaction holds locked, where locks are per row and several transactions run
   * at once (PostgreSQL); absent on SQLite, whose writer runs alone.
   */
  readonly heldLocks?: HeldLocks;
}

/**
 * What a batch itself last wrote to one account's credits in one unit, while holding that
 * account's balance lock (PostgreSQL): the balance row, its live lots, and the row version its
 * write left. Nobody else can change them while the lock is held, so the batch's next spend of
 * the account may start from this instead of reading them again; its write then checks `version`
 * (see `writeLedger`), which catches any change made some other way meanwhile.
 */
export interface KnownCredits {
  readonly balance: Readonly<BalanceRecord>;
  readonly lots: ReadonlyArray<Readonly<LotRecord>>;
  /** The balance row's `ctid` and `xmin` after the write: any later UPDATE of the row changes it. */
  readonly version: string;
}

/**
 * The rows a transaction has locked, by name, with the account each belongs to: a later read of
 * one in the same transaction needs no lock of its own. Beside them, what the transaction last
 * wrote to a locked account (`KnownCredits`), by the account's id-name.
 */
export class HeldLocks {
  private readonly accounts = new Map<string, string>();
  /** In the order taken, so a rolled-back savepoint's can be forgotten. */
  private readonly order: string[] = [];
  private readonly known = new Map<string, KnownCredits>();

  /** The account whose row `name` is, when this transaction holds it. */
  accountOf(name: string): string | undefined {
    return this.accounts.get(name);
  }

  add(name: string, accountId: string): void {
    if (this.accounts.has(name)) return;
    this.accounts.set(name, accountId);
    this.order.push(name);
  }

  /** What this transaction last wrote to the locked row `name`, if it noted it. */
  knownCredits(name: string): KnownCredits | undefined {
    return this.known.get(name);
  }

  /** Notes what was just written under the lock `name` (which this transaction must hold). */
  noteKnown(name: string, credits: KnownCredits): void {
    if (!this.accounts.has(name)) throw new Error(`noting credits of ${name}, whose lock this transaction does not hold`);
    this.known.set(name, credits);
  }

  forgetKnown(name: string): void {
    this.known.delete(name);
  }

  /** A mark to roll back to: locks taken after it are released with a savepoint's rollback. */
  get mark(): number {
    return this.order.length;
  }

  /**
   * After a savepoint's rollback. What was noted as written may have been undone, whichever lock
   * it was under, so all of it is forgotten; the next spend reads again.
   */
  rollbackTo(mark: number): void {
    while (this.order.length > mark) this.accounts.delete(this.order.pop()!);
    this.known.clear();
  }
}

export interface Dialect {
  readonly name: "sqlite" | "postgres";
  /** Row lock suffix for a SELECT: ` FOR UPDATE` on PostgreSQL; SQLite's writer lock covers it. */
  readonly forUpdate: string;
  /** The same for one table of a join, by its alias: ` FOR UPDATE OF b`. */
  forUpdateOf(alias: string): string;
}

export interface TransactionOptions {
  /** Name for logs and metrics. */
  readonly label?: string;
  /**
   * What the transaction will lock first, when known (an account): transactions naming the same
   * lane run in one batch at a time, so on PostgreSQL a hot account's requests share one batch
   * and its row lock instead of queueing for it batch after batch. Only a hint: correctness
   * never depends on it.
   */
  readonly lane?: string;
  /**
   * The transaction may sort whole tables (a migration building an index). On SQLite it runs in
   * a batch of its own whose sorts may spill to temporary files; other transactions sort in
   * memory, which suits their few rows.
   */
  readonly bulk?: boolean;
}

export interface Database {
  readonly dialect: Dialect;
  /**
   * Runs `fn` in one database transaction: all of it commits or none of it does. `fn` may be
   * retried by the driver on a serialization failure, so it must not have effects outside `tx`.
   */
  transaction<T>(fn: (tx: Sql) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /** Runs read-only statements outside an explicit transaction. */
  read<T>(fn: (q: Sql) => Promise<T>): Promise<T>;
  /** True when the database answers a trivial query. */
  ping(): Promise<boolean>;
  /** Connections by state, and work waiting for one, for `/metrics`. */
  connectionStats(): ConnectionStats;
  /**
   * Calls `onNotify` whenever any process announces a change on `channel` (see `notify`). Only
   * databases that several server processes share implement it (PostgreSQL LISTEN/NOTIFY).
   */
  listen?(channel: string, onNotify: () => void): ChangeFeed;
  close(): Promise<void>;
}

export interface ConnectionStats {
  /** Open connections. */
  total: number;
  /** Of those, connections doing nothing now. */
  idle: number;
  /** Transactions or queries waiting for a connection (SQLite: queued for the writer's next batch). */
  waiting: number;
}

/** A subscription to change announcements. */
export interface ChangeFeed {
  /**
   * True while announcements are being received. A cache that relies on them must not serve
   * while this is false: announcements made meanwhile are lost.
   */
  readonly live: boolean;
  close(): Promise<void>;
}

/**
 * A statement whose text depends on the dialect, built once per dialect: statements are cached
 * by their text, and a text built on every call costs hashing it again every time.
 */
export function perDialect(build: (dialect: Dialect) => string): (dialect: Dialect) => string {
  const built = new Map<string, string>();
  return (dialect) => {
    let sql = built.get(dialect.name);
    if (sql === undefined) {
      sql = build(dialect);
      built.set(dialect.name, sql);
    }
    return sql;
  };
}

/** A unique-constraint violation, recognised the same way on both databases. */
export function isUniqueViolation(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const e = error as { code?: unknown; message?: unknown };
  return e.code === "23505" || e.code === "SQLITE_CONSTRAINT_UNIQUE" || e.code === "SQLITE_CONSTRAINT_PRIMARYKEY";
}

/** A deadlock (40P01) or serialisation failure (40001): the PostgreSQL layer retries these in a later batch; one that outlasts its retries is a 503. */
export function isContention(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return code === "40P01" || code === "40001";
}

/**
 * Text PostgreSQL cannot store (22021: a NUL byte; 22P05: an untranslatable character). The HTTP
 * layer refuses NUL before it gets here; this keeps any that slip through a 400, not a 500.
 */
export function isUnstorableText(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const code = (error as { code?: unknown }).code;
  return code === "22021" || code === "22P05";
}

/** Errors that mean "the database is not reachable now", answered 503 rather than 500. */
export function isUnavailable(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const e = error as { code?: unknown; message?: unknown };
  const code = typeof e.code === "string" ? e.code : "";
  if (["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "57P01", "57P02", "57P03", "57014", "08000", "08003", "08006", "SQLITE_BUSY", "SQLITE_IOERR", "SQLITE_FULL"].includes(code)) {
    return true;
  }
  const message = typeof e.message === "string" ? e.message : "";
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout|not queryable/i.test(message);
}

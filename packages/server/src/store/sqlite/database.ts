import BetterSqlite3 from "better-sqlite3";
import { closeSync, fdatasync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import type { Database, Dialect, Sql, SqlValue, TransactionOptions } from "../sql.ts";
import { Checkpointer } from "./checkpointer.ts";

const SQLITE_DIALECT: Dialect = { name: "sqlite", forUpdate: "", forUpdateOf: () => "" };

/**
 * Transactions committed between two WAL checkpoints. A deduct dirties a handful of pages, so
 * this keeps the WAL near SQLite's default of a thousand-odd pages per checkpoint.
 */
const CHECKPOINT_EVERY_TRANSACTIONS = 1000;

/** Page cache per connection, in KiB (negative: SQLite reads it as KiB rather than pages). */
const SQLITE_CACHE_KIB = -65_536;

export interface SqliteOptions {
  /** File path, or `:memory:`. */
  readonly path: string;
  /**
   * `FULL` (default): no transaction is acknowledged before its commit is on disk, so an
   * acknowledged write survives a power cut. `NORMAL`: survives a process crash; the last commits
   * may be lost on power loss. `OFF`: for throwaway databases.
   */
  readonly synchronous?: "FULL" | "NORMAL" | "OFF";
  readonly busyTimeoutMs?: number;
  /** Upper bound on transactions that share one commit. */
  readonly batchTransactionsMax?: number;
}

interface QueuedTransaction {
  run: (tx: Sql) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * SQLite through better-sqlite3, one connection per process, in WAL mode.
 *
 * Transactions are queued and run one after another on the single connection. Everything queued
 * while a commit is being made is run in the next batch, inside ONE `BEGIN IMMEDIATE … COMMIT`
 * with a savepoint per transaction (group commit): each transaction succeeds or fails on its own,
 * and the batch pays for one fsync. An idle server runs a batch of one with no added wait.
 */
export class SqliteDatabase implements Database {
  readonly dialect = SQLITE_DIALECT;
  private readonly db: BetterSqlite3.Database;
  /**
   * Reads use their own connection: in WAL mode it sees only committed data, never the open
   * batch on the writer connection (whose savepoints may still roll back).
   */
  private readonly readerDb: BetterSqlite3.Database;
  private readonly statements = new Map<string, BetterSqlite3.Statement>();
  private readonly readerStatements = new Map<string, BetterSqlite3.Statement>();
  private readonly queue: QueuedTransaction[] = [];
  private draining = false;
  private closed = false;
  private readonly batchTransactionsMax: number;
  private readonly syncWalOffThread: boolean;
  private readonly walPath: string;
  private walFd: number | undefined;
  /** Batches committed but not yet known durable, waiting for the next WAL sync. */
  private awaitingSync: Array<() => void> = [];
  private awaitingSyncFailures: Array<(error: unknown) => void> = [];
  private syncing = false;
  private readonly executor: Sql;
  private readonly readerExecutor: Sql;
  /** Off-thread WAL checkpoints (file databases); undefined for `:memory:`. */
  private readonly checkpointer: Checkpointer | undefined;
  private committedSinceCheckpoint = 0;
  /** Transaction control, prepared once (a prepared SAVEPOINT costs a third of an exec'd one). */
  private readonly control: Record<"begin" | "savepoint" | "release" | "rollbackTo" | "commit" | "rollback", BetterSqlite3.Statement>;

  constructor(options: SqliteOptions) {
    if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
    this.db = new BetterSqlite3(options.path);
    this.db.pragma("journal_mode = WAL");
    const synchronous = options.synchronous ?? "FULL";
    // FULL durability without blocking the event loop: SQLite's own FULL would fsync the WAL
    // inside COMMIT, on this thread (≈2.5 ms here), stalling every request. Instead SQLite
    // commits with NORMAL (WAL written, not synced) and Tally fdatasyncs the WAL on libuv's thread
    // pool, answering a batch only after a sync that began after its commit. Same guarantee:
    // every acknowledged commit's WAL frames are on disk. A file database only: `:memory:` has no WAL.
    this.syncWalOffThread = synchronous === "FULL" && options.path !== ":memory:";
    this.db.pragma(`synchronous = ${this.syncWalOffThread ? "NORMAL" : synchronous}`);
    this.walPath = `${options.path}-wal`;
    this.db.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
    this.db.pragma("foreign_keys = OFF");
    // SQLite's default page cache is 2 MB: too small once many accounts are touched at random.
    this.db.pragma(`cache_size = ${SQLITE_CACHE_KIB}`);
    this.batchTransactionsMax = options.batchTransactionsMax ?? 256;
    if (options.path !== ":memory:") {
      // Checkpoints run on a worker thread instead of inside a COMMIT on the event loop.
      this.db.pragma("wal_autocheckpoint = 0");
      this.checkpointer = new Checkpointer(options.path);
    }
    // An in-memory database exists only on its own connection, so it reads there too.
    if (options.path === ":memory:") {
      this.readerDb = this.db;
    } else {
      this.readerDb = new BetterSqlite3(options.path);
      this.readerDb.pragma(`busy_timeout = ${options.busyTimeoutMs ?? 5000}`);
      this.readerDb.pragma(`cache_size = ${SQLITE_CACHE_KIB}`);
    }
    this.control = {
      begin: this.db.prepare("BEGIN IMMEDIATE"),
      savepoint: this.db.prepare("SAVEPOINT tx"),
      release: this.db.prepare("RELEASE tx"),
      rollbackTo: this.db.prepare("ROLLBACK TO tx"),
      commit: this.db.prepare("COMMIT"),
      rollback: this.db.prepare("ROLLBACK"),
    };
    this.executor = this.makeExecutor(this.db, this.statements);
    this.readerExecutor = this.readerDb === this.db ? this.executor : this.makeExecutor(this.readerDb, this.readerStatements);
  }

  private makeExecutor(connection: BetterSqlite3.Database, cache: Map<string, BetterSqlite3.Statement>): Sql {
    const prepare = (sql: string): BetterSqlite3.Statement => {
      let statement = cache.get(sql);
      if (statement === undefined) {
        statement = connection.prepare(sql);
        cache.set(sql, statement);
      }
      return statement;
    };
    const normalize = (params: readonly SqlValue[] | undefined): unknown[] =>
      params === undefined ? [] : params.map((p) => (typeof p === "boolean" ? (p ? 1 : 0) : p));
    return {
      dialect: SQLITE_DIALECT,
      all: async <T extends object>(sql: string, params?: readonly SqlValue[]) =>
        prepare(sql).all(...normalize(params)) as T[],
      get: async <T extends object>(sql: string, params?: readonly SqlValue[]) =>
        prepare(sql).get(...normalize(params)) as T | undefined,
      run: async (sql: string, params?: readonly SqlValue[]) => {
        const info = prepare(sql).run(...normalize(params));
        return { changes: info.changes };
      },
    };
  }

  /** Runs a DDL script (migrations). */
  exec(sql: string): void {
    this.db.exec(sql);
  }

  transaction<T>(fn: (tx: Sql) => Promise<T>, _options?: TransactionOptions): Promise<T> {
    if (this.closed) return Promise.reject(Object.assign(new Error("database is closed"), { code: "SQLITE_BUSY" }));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run: fn, resolve: resolve as (v: unknown) => void, reject });
      if (!this.draining) {
        this.draining = true;
        // setImmediate lets every request whose bytes arrived in this event-loop turn join the batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.batchTransactionsMax);
        await this.runBatch(batch);
        if (this.committedSinceCheckpoint >= CHECKPOINT_EVERY_TRANSACTIONS) await this.checkpoint();
      }
    } finally {
      this.draining = false;
    }
  }

  /**
   * Copies the WAL into the database file while no batch runs, so the checkpoint completes and
   * the next write starts the WAL over; requests keep queueing meanwhile and reads go on.
   */
  private async checkpoint(): Promise<void> {
    this.committedSinceCheckpoint = 0;
    if (this.checkpointer === undefined) return;
    try {
      await this.checkpointer.run();
    } catch {
      // The worker is gone (or failed): checkpoint here rather than let the WAL grow.
      this.db.pragma("wal_checkpoint(PASSIVE)");
    }
  }

  private async runBatch(batch: QueuedTransaction[]): Promise<void> {
    const outcomes: Array<{ ok: true; value: unknown } | { ok: false; error: unknown }> = [];
    try {
      this.control.begin.run();
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    for (const item of batch) {
      this.control.savepoint.run();
      try {
        const value = await item.run(this.executor);
        this.control.release.run();
        outcomes.push({ ok: true, value });
      } catch (error) {
        this.control.rollbackTo.run();
        this.control.release.run();
        outcomes.push({ ok: false, error });
      }
    }
    try {
      this.control.commit.run();
    } catch (error) {
      try {
        this.control.rollback.run();
      } catch {
        // Already rolled back by SQLite.
      }
      for (const item of batch) item.reject(error);
      return;
    }
    this.committedSinceCheckpoint += batch.length;
    const settle = () =>
      batch.forEach((item, i) => {
        const outcome = outcomes[i]!;
        if (outcome.ok) item.resolve(outcome.value);
        else item.reject(outcome.error);
      });
    if (!this.syncWalOffThread) return settle();
    this.awaitingSync.push(settle);
    this.awaitingSyncFailures.push((error) => batch.forEach((item) => item.reject(error)));
    this.syncWal();
  }

  /**
   * One WAL sync in flight at a time; batches that commit meanwhile wait for the next one, which
   * covers all of them (fsync is per file, not per write).
   */
  private syncWal(): void {
    if (this.syncing || this.awaitingSync.length === 0) return;
    const done = this.awaitingSync;
    const failed = this.awaitingSyncFailures;
    this.awaitingSync = [];
    this.awaitingSyncFailures = [];
    this.syncing = true;
    this.walFd ??= openSync(this.walPath, "r");
    fdatasync(this.walFd, (error) => {
      this.syncing = false;
      if (error) for (const fail of failed) fail(error);
      else for (const settle of done) settle();
      this.syncWal();
    });
  }

  async read<T>(fn: (q: Sql) => Promise<T>): Promise<T> {
    return fn(this.readerExecutor);
  }

  async ping(): Promise<boolean> {
    try {
      this.db.prepare("SELECT 1").get();
      return true;
    } catch {
      return false;
    }
  }

  /** Online, consistent copy of the database file (SQLite's backup API). */
  async backup(destinationPath: string): Promise<void> {
    await this.db.backup(destinationPath);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    while (this.draining || this.queue.length > 0 || this.syncing || this.awaitingSync.length > 0) {
      await new Promise((r) => setTimeout(r, 5));
    }
    await this.checkpointer?.close();
    if (this.walFd !== undefined) closeSync(this.walFd);
    if (this.readerDb !== this.db) this.readerDb.close();
    this.db.close();
  }
}

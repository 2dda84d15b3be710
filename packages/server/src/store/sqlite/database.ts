import BetterSqlite3 from "better-sqlite3";
import assert from "node:assert/strict";
import { closeSync, fdatasync, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import type { ConnectionStats, Database, Dialect, Sql, TransactionOptions } from "../sql.ts";
import { Checkpointer } from "./checkpointer.ts";
import { StatementCache } from "./statements.ts";
import { ensureWalCoalescing } from "./wal-coalesce.ts";

export const SQLITE_DIALECT: Dialect = { name: "sqlite", forUpdate: "", forUpdateOf: () => "" };

/**
 * Transactions committed between two WAL checkpoints. A deduct dirties a handful of pages, so
 * this keeps the WAL near SQLite's default of a thousand-odd pages per checkpoint.
 */
const CHECKPOINT_EVERY_TRANSACTIONS = 1000;

/**
 * The WAL starts over (from its first byte, instead of growing) once every this many
 * checkpoints' worth of transactions. Starting over needs every frame copied into the database
 * file, so the writer pauses for the last, short checkpoint of the round; doing it rarely keeps
 * such pauses rare.
 */
const WAL_RESTART_EVERY_CHECKPOINTS = 4;

/**
 * The writer pauses for that last checkpoint only when few transactions are left to copy (those
 * committed while the previous checkpoint ran), so the pause is short: the background
 * checkpoints catch up in a round or two more (each copies what came in during the last), and at
 * 32 the pause measured 2.0–2.3 ms median against 4.1–4.5 ms at 128, at the same throughput.
 */
const CHECKPOINT_CATCH_UP_TRANSACTIONS_MAX = 32;

/**
 * Should checkpoints never catch up (under a steady high write rate, each one ends with more than
 * the allowance above committed meanwhile), the writer pauses for the last checkpoint anyway once
 * this many restart intervals have passed: the WAL, and every read's walk of its index, stays
 * bounded. Measured in-process at 7,000–11,000 deducts/s, where checkpoints never caught up, the
 * WAL file stays under 300 MB with this bound; without it, it passed 3 GB within a minute and a
 * deduct's main-thread time doubled (90 → 165–185 µs).
 */
const WAL_TRANSACTIONS_MAX_RESTARTS = 5;

/**
 * Page caches, in KiB (negative: SQLite reads it as KiB rather than pages). The writer's holds the
 * pages every write touches (balances, live lots, the newest index leaves); what misses is read
 * from the operating system's file cache, one `pread` per page. Bigger is not free: SQLite scans
 * the writer's whole cache at every commit whose B-tree split reordered pages (it parks a page
 * under a temporary page number beyond the end of the file, then truncates the cache back to the
 * file's size), and the memory counts against the server's footprint. The per-account
 * transaction index wants one page per spending account (its newest leaf), so no fixed size
 * holds every write's pages: in 30-second W1 runs (10,000 accounts) 8 MiB read back ~1.35 pages
 * per deduct and 16 MiB 0.02, but 16 MiB read back 0.77 per deduct again a minute later (W7),
 * while the scans grow with the cache (docs/performance-history.md, sessions 3 and 8).
 */
const WRITER_CACHE_KIB = -8192;
const READER_CACHE_KIB = -16_384;

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
  /**
   * Transactions between two WAL checkpoints (default 1,000); the WAL's restart and its bound
   * scale with it. Smaller values let a test see many rounds of checkpoints in a few seconds.
   */
  readonly checkpointEveryTransactions?: number;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * After some errors (I/O, a full disk) SQLite rolls back the whole transaction by itself; the
 * batch must then stop, or the transactions after it would run, and commit, one by one.
 */
function assertStillInTransaction(db: BetterSqlite3.Database, error: unknown): void {
  if (!db.inTransaction) throw error;
}

interface QueuedTransaction {
  run: (tx: Sql) => Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
  /** Runs in a batch of its own, with sorts allowed to spill to disk (TransactionOptions.bulk). */
  bulk: boolean;
}

/**
 * SQLite through better-sqlite3, one connection per process, in WAL mode.
 *
 * Transactions are queued and run one after another on the single connection. Everything queued
 * while a commit is being made is run in the next batch, inside ONE `BEGIN IMMEDIATE … COMMIT`
 * (group commit): each transaction succeeds or fails on its own (see `runBatch` for how), and
 * the batch pays for one fsync. An idle server runs a batch of one with no added wait.
 */
export class SqliteDatabase implements Database {
  readonly dialect = SQLITE_DIALECT;
  private readonly db: BetterSqlite3.Database;
  /**
   * Reads use their own connection: in WAL mode it sees only committed data, never the open
   * batch on the writer connection (whose savepoints may still roll back).
   */
  private readonly readerDb: BetterSqlite3.Database;
  private readonly queue: QueuedTransaction[] = [];
  private draining = false;
  private closed = false;
  private readonly batchTransactionsMax: number;
  private readonly checkpointEveryTransactions: number;
  private readonly walRestartEveryTransactions: number;
  private readonly walTransactionsMax: number;
  private readonly syncWalOffThread: boolean;
  private readonly walPath: string;
  private walFd: number | undefined;
  /** Batches committed but not yet known durable, waiting for the next WAL sync. */
  private awaitingSync: Array<() => void> = [];
  private awaitingSyncFailures: Array<(error: unknown) => void> = [];
  private syncing = false;
  private readonly executor: Sql;
  /** The writer connection's statements; counts those that may write (see runBatch). */
  private readonly writerStatements: StatementCache;
  private readonly readerExecutor: Sql;
  /** Off-thread WAL checkpoints (file databases); undefined for `:memory:`. */
  private readonly checkpointer: Checkpointer | undefined;
  /** Transactions committed since the last checkpoint started. */
  private committedSinceCheckpoint = 0;
  /** Transactions committed since the WAL last started over (as far as this writer knows). */
  private committedSinceRestart = 0;
  /** The checkpoint running beside the writer, if any. */
  private checkpointInFlight: Promise<void> | undefined;
  /** Set when the writer should pause, before its next batch, for the checkpoint that lets the WAL start over. */
  private restartDue = false;
  /** Transaction control, prepared once (a prepared SAVEPOINT costs a third of an exec'd one). */
  private readonly control: Record<"begin" | "savepoint" | "release" | "rollbackTo" | "commit" | "rollback", BetterSqlite3.Statement>;
  /** The reader connection's BEGIN and COMMIT; undefined where reads share the writer's connection. */
  private readonly readerControl: Record<"begin" | "commit" | "rollback", BetterSqlite3.Statement> | undefined;
  /** True while reads share one read transaction on the reader connection (see `read`). */
  private readSnapshotOpen = false;
  private readonly endReadSnapshotLater = (): void => this.endReadSnapshot();

  constructor(options: SqliteOptions) {
    this.checkpointEveryTransactions = options.checkpointEveryTransactions ?? CHECKPOINT_EVERY_TRANSACTIONS;
    assert(Number.isSafeInteger(this.checkpointEveryTransactions) && this.checkpointEveryTransactions > 0, "checkpointEveryTransactions must be a positive integer");
    this.walRestartEveryTransactions = WAL_RESTART_EVERY_CHECKPOINTS * this.checkpointEveryTransactions;
    this.walTransactionsMax = WAL_TRANSACTIONS_MAX_RESTARTS * this.walRestartEveryTransactions;
    if (options.path !== ":memory:") mkdirSync(dirname(options.path), { recursive: true });
    ensureWalCoalescing();
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
    this.db.pragma(`cache_size = ${WRITER_CACHE_KIB}`);
    // Each transaction of a batch runs in a savepoint, and SQLite copies every page a savepoint
    // first touches into a sub-journal. By default that journal moves to a temporary file once
    // it passes 64 KiB (16 pages, which a deduct that splits a B-tree page reaches), and from
    // then until COMMIT every page costs two write system calls, on the event loop. In memory it
    // is emptied at every RELEASE, so it never holds more than one transaction's pages. The
    // setting also keeps this connection's sorts in memory, so scans that sort without bound
    // run as reads, on the reader connection (`tally verify`), or as bulk transactions, which
    // switch it back for their batch (migrations).
    this.db.pragma("temp_store = MEMORY");
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
      this.readerDb.pragma(`cache_size = ${READER_CACHE_KIB}`);
    }
    this.control = {
      begin: this.db.prepare("BEGIN IMMEDIATE"),
      savepoint: this.db.prepare("SAVEPOINT tx"),
      release: this.db.prepare("RELEASE tx"),
      rollbackTo: this.db.prepare("ROLLBACK TO tx"),
      commit: this.db.prepare("COMMIT"),
      rollback: this.db.prepare("ROLLBACK"),
    };
    this.readerControl =
      this.readerDb === this.db
        ? undefined
        : { begin: this.readerDb.prepare("BEGIN"), commit: this.readerDb.prepare("COMMIT"), rollback: this.readerDb.prepare("ROLLBACK") };
    this.writerStatements = new StatementCache(this.db, SQLITE_DIALECT);
    this.executor = this.writerStatements.sql;
    this.readerExecutor = this.readerDb === this.db ? this.executor : new StatementCache(this.readerDb, SQLITE_DIALECT).sql;
  }

  /** Runs a DDL script at once, outside the batch queue (migrations run as a bulk transaction instead). */
  exec(sql: string): void {
    this.db.exec(sql);
  }

  transaction<T>(fn: (tx: Sql) => Promise<T>, options?: TransactionOptions): Promise<T> {
    if (this.closed) return Promise.reject(Object.assign(new Error("database is closed"), { code: "SQLITE_BUSY" }));
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ run: fn, resolve: resolve as (v: unknown) => void, reject, bulk: options?.bulk === true });
      if (!this.draining) {
        this.draining = true;
        // setImmediate lets every request whose bytes arrived in this event-loop turn join the batch.
        setImmediate(() => void this.drain());
      }
    });
  }

  private async drain(): Promise<void> {
    try {
      do {
        if (this.restartDue) await this.checkpointForRestart();
        if (this.queue.length === 0) break;
        const batch = this.takeBatch();
        if (batch[0]!.bulk) {
          // Sorts over whole tables (an index built by a migration) spill to temporary files
          // instead of holding every row in memory. Changed between batches: SQLite refuses
          // to change it inside a transaction.
          this.db.pragma("temp_store = DEFAULT");
          try {
            await this.runBatch(batch);
          } finally {
            this.db.pragma("temp_store = MEMORY");
          }
        } else {
          await this.runBatch(batch);
        }
        this.afterCommit(batch.length);
      } while (this.queue.length > 0 || this.restartDue);
    } finally {
      this.draining = false;
    }
  }

  /** The next batch: up to batchTransactionsMax transactions, or one bulk transaction alone. */
  private takeBatch(): QueuedTransaction[] {
    if (this.queue[0]!.bulk) return this.queue.splice(0, 1);
    let n = 1;
    while (n < this.queue.length && n < this.batchTransactionsMax && !this.queue[n]!.bulk) n++;
    return this.queue.splice(0, n);
  }

  /*
   * WAL checkpoints. SQLite's own would run inside a COMMIT on the event loop, copying
   * thousands of pages while no request is served. Instead:
   *  - every CHECKPOINT_EVERY_TRANSACTIONS, a checkpoint runs on a worker thread while the
   *    writer goes on committing (a PASSIVE checkpoint copies the frames that existed when it
   *    began and never blocks the writer);
   *  - every WAL_RESTART_EVERY_TRANSACTIONS, once such a checkpoint ends with only a few
   *    transactions committed meanwhile, the writer pauses for one more checkpoint that copies
   *    just those; the WAL is then fully copied and the next commit starts it over, so its file
   *    stays the same size and is overwritten in place (cheaper than growing it).
   */
  private afterCommit(transactions: number): void {
    this.committedSinceCheckpoint += transactions;
    this.committedSinceRestart += transactions;
    if (this.checkpointer === undefined || this.restartDue) return;
    // The bound is checked while a checkpoint runs too: under a steady high write rate each
    // checkpoint ends with more than the catch-up allowance committed meanwhile, so they chain
    // one after another, and a check made only between them would never run.
    if (this.committedSinceRestart >= this.walTransactionsMax) this.requestRestart();
    else if (this.checkpointInFlight === undefined && this.committedSinceCheckpoint >= this.checkpointEveryTransactions) this.startCheckpoint();
  }

  private startCheckpoint(): void {
    const checkpointer = this.checkpointer;
    if (checkpointer === undefined || this.closed) return;
    this.committedSinceCheckpoint = 0;
    this.checkpointInFlight = checkpointer.run().then(
      () => {
        this.checkpointInFlight = undefined;
        if (this.restartDue || this.committedSinceRestart < this.walRestartEveryTransactions) return;
        // Time to start the WAL over: pause for the rest if little is left, else copy more first.
        if (this.committedSinceCheckpoint <= CHECKPOINT_CATCH_UP_TRANSACTIONS_MAX) this.requestRestart();
        else this.startCheckpoint();
      },
      () => {
        this.checkpointInFlight = undefined;
        // The worker is gone (or failed): the paused checkpoint falls back to this connection.
        this.requestRestart();
      },
    );
  }

  private requestRestart(): void {
    if (this.closed) return;
    this.restartDue = true;
    if (!this.draining) {
      this.draining = true;
      setImmediate(() => void this.drain());
    }
  }

  /**
   * The pause of step 2: copies what is left of the WAL while no batch runs, so the checkpoint
   * completes and the next write starts the WAL over; requests keep queueing and reads go on.
   */
  private async checkpointForRestart(): Promise<void> {
    // restartDue stays set until the checkpoint in flight has ended: seeing it, that checkpoint's
    // completion starts no other in its place, which would leave this one refused ("already
    // running") and the WAL growing.
    if (this.checkpointInFlight !== undefined) await this.checkpointInFlight;
    this.restartDue = false;
    this.committedSinceCheckpoint = 0;
    this.committedSinceRestart = 0;
    try {
      await this.checkpointer!.run();
    } catch {
      // The worker is gone (or failed): checkpoint here rather than let the WAL grow.
      this.db.pragma("wal_checkpoint(PASSIVE)");
    }
  }

  /*
   * A batch runs in one transaction, and each of its transactions must succeed or fail on its
   * own. Savepoints give that, but cost on every transaction: the SAVEPOINT and RELEASE
   * statements, and a copy of every page the transaction first touches (its sub-journal),
   * ~3–4% of a deduct's main thread. Yet a failure that must be undone is rare: most failures
   * (too few credits, an unknown account, a spend limit) are found before anything is written.
   * So a batch runs without savepoints; a transaction that fails having run no writing statement
   * fails alone, as it would have; and should one fail after writing, the whole batch is rolled
   * back and run again with a savepoint per transaction, as it always was. Transactions may run
   * twice: the Database contract already requires that of them (PostgreSQL retries them).
   */
  private async runBatch(batch: QueuedTransaction[]): Promise<void> {
    // No read transaction outlives the WAL it read: with none open, a fully checkpointed WAL
    // starts over at this BEGIN instead of growing.
    this.endReadSnapshot();
    if (!this.begin(batch)) return;
    let outcomes: Outcome[] | undefined;
    try {
      outcomes = await this.runWithoutSavepoints(batch);
      if (outcomes === undefined) {
        this.rollback();
        if (!this.begin(batch)) return;
        outcomes = await this.runWithSavepoints(batch);
      }
    } catch (error) {
      // SQLite gave up the whole transaction (an I/O error, a full disk): nothing of it stays.
      this.rollback();
      for (const item of batch) item.reject(error);
      return;
    }
    if (outcomes.every((o) => !o.ok)) {
      // Nothing to keep (a batch of one that failed, say): end the transaction without a commit.
      this.rollback();
    } else {
      try {
        this.control.commit.run();
      } catch (error) {
        this.rollback();
        for (const item of batch) item.reject(error);
        return;
      }
    }
    // Reads from here on see this batch.
    this.endReadSnapshot();
    const settled = outcomes;
    const settle = () =>
      batch.forEach((item, i) => {
        const outcome = settled[i]!;
        if (outcome.ok) item.resolve(outcome.value);
        else item.reject(outcome.error);
      });
    // Failures wait for the sync too: what they read (a balance too low, say) may be a commit
    // that is not yet on disk, and no answer may rest on what a power cut could still undo.
    if (!this.syncWalOffThread) return settle();
    this.awaitingSync.push(settle);
    this.awaitingSyncFailures.push((error) => batch.forEach((item) => item.reject(error)));
    this.syncWal();
  }

  /** BEGIN IMMEDIATE; false (every transaction rejected) when it fails. */
  private begin(batch: readonly QueuedTransaction[]): boolean {
    try {
      this.control.begin.run();
      return true;
    } catch (error) {
      for (const item of batch) item.reject(error);
      return false;
    }
  }

  private rollback(): void {
    try {
      if (this.db.inTransaction) this.control.rollback.run();
    } catch {
      // Already rolled back by SQLite.
    }
  }

  /** Each transaction in turn, no savepoints; undefined when one failed after it may have written. */
  private async runWithoutSavepoints(batch: readonly QueuedTransaction[]): Promise<Outcome[] | undefined> {
    const outcomes: Outcome[] = [];
    for (const item of batch) {
      const writesBefore = this.writerStatements.writes;
      try {
        outcomes.push({ ok: true, value: await item.run(this.executor) });
      } catch (error) {
        assertStillInTransaction(this.db, error);
        if (this.writerStatements.writes !== writesBefore) return undefined;
        outcomes.push({ ok: false, error });
      }
    }
    return outcomes;
  }

  /** Each transaction in its own savepoint: a failure rolls back its own writes only. */
  private async runWithSavepoints(batch: readonly QueuedTransaction[]): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    for (const item of batch) {
      this.control.savepoint.run();
      try {
        const value = await item.run(this.executor);
        this.control.release.run();
        outcomes.push({ ok: true, value });
      } catch (error) {
        assertStillInTransaction(this.db, error);
        this.control.rollbackTo.run();
        this.control.release.run();
        outcomes.push({ ok: false, error });
      }
    }
    return outcomes;
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

  /**
   * Reads made in the same event-loop turn share one read transaction on the reader connection,
   * ended by the next `setImmediate` or by the writer's next BEGIN or COMMIT, whichever is first.
   * A read on its own pays for taking and dropping SQLite's WAL read lock (two system calls)
   * and, while the WAL is empty, for checking the file's size (a third): 7.7–9.3 µs per
   * autocommit read here, against 2.6–3.5 µs per read sharing a transaction with 7–31 others.
   * A read never sees less than it would alone: every commit ends the shared transaction, so a
   * later read starts a fresh one, and a commit that has been answered has always ended it.
   */
  async read<T>(fn: (q: Sql) => Promise<T>): Promise<T> {
    if (this.readerControl !== undefined && !this.readSnapshotOpen) {
      this.readerControl.begin.run();
      this.readSnapshotOpen = true;
      setImmediate(this.endReadSnapshotLater);
    }
    return fn(this.readerExecutor);
  }

  private endReadSnapshot(): void {
    if (!this.readSnapshotOpen) return;
    this.readSnapshotOpen = false;
    try {
      this.readerControl!.commit.run();
    } catch {
      // A read-only transaction has nothing to lose; make sure it is gone (if the connection is
      // still open: this also runs from a timer, where a throw would take the process down).
      try {
        if (this.readerDb.open && this.readerDb.inTransaction) this.readerControl!.rollback.run();
      } catch {
        // Closed meanwhile: SQLite ended the transaction with the connection.
      }
    }
  }

  /** The writer and the reader connection; the writer is busy while a batch runs. */
  connectionStats(): ConnectionStats {
    return { total: 2, idle: this.draining ? 1 : 2, waiting: this.queue.length };
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
    await this.checkpointInFlight;
    this.endReadSnapshot();
    await this.checkpointer?.close();
    if (this.walFd !== undefined) closeSync(this.walFd);
    if (this.readerDb !== this.db) this.readerDb.close();
    this.db.close();
  }
}

import pg from "pg";
import { createHash } from "node:crypto";
import { availableParallelism } from "node:os";
import { PgChangeFeed } from "./change-feed.ts";
import { HeldLocks, isContention, type ChangeFeed, type ConnectionStats, type Database, type Dialect, type Sql, type SqlValue, type TransactionOptions } from "../sql.ts";

const POSTGRES_DIALECT: Dialect = { name: "postgres", forUpdate: " FOR UPDATE", forUpdateOf: (alias) => ` FOR UPDATE OF ${alias}` };

// BIGINT (int8) and NUMERIC sums come back as strings by default. Every amount Tally stores is
// bounded by 2^53-1 before it is written, so a JS number is exact; assert it anyway.
pg.types.setTypeParser(20, (value: string) => {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`int8 value ${value} is outside the safe integer range`);
  return n;
});
pg.types.setTypeParser(1700, (value: string) => {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`numeric value ${value} is outside the safe integer range`);
  return n;
});

export interface PostgresOptions {
  readonly connectionString: string;
  readonly poolSize?: number;
  /** How long to wait for a connection before answering 503. */
  readonly connectTimeoutMs?: number;
  /** Upper bound for any one statement. */
  readonly statementTimeoutMs?: number;
  /** Upper bound on transactions that share one commit. */
  readonly batchTransactionsMax?: number;
  /**
   * Batches that may run at once (default `LANES_DEFAULT`: twice the cores, 4–16; at most the
   * pool size less 2). Fewer lanes make bigger batches, so fewer commits and round trips for
   * BEGIN and COMMIT; more lanes run more accounts side by side. A hot account's requests always
   * share one lane.
   */
  readonly lanes?: number;
}

/** `?` placeholders → `$1, $2, …`, computed once per distinct statement. */
const translated = new Map<string, { text: string; name: string }>();
function translate(sql: string): { text: string; name: string } {
  let entry = translated.get(sql);
  if (entry === undefined) {
    let i = 0;
    const text = sql.replace(/\?/g, () => `$${++i}`);
    // A named statement is prepared once per connection and reused: the hot path skips parsing.
    const name = "t_" + createHash("sha1").update(text).digest("hex").slice(0, 20);
    entry = { text, name };
    translated.set(sql, entry);
  }
  return entry;
}

function executor(client: pg.PoolClient | pg.Pool, heldLocks?: HeldLocks): Sql {
  const query = async (sql: string, params?: readonly SqlValue[]) => {
    const { text, name } = translate(sql);
    return client.query({ text, name, values: params === undefined ? [] : [...params] });
  };
  return {
    dialect: POSTGRES_DIALECT,
    ...(heldLocks === undefined ? {} : { heldLocks }),
    all: async <T extends object>(sql: string, params?: readonly SqlValue[]) => (await query(sql, params)).rows as T[],
    get: async <T extends object>(sql: string, params?: readonly SqlValue[]) =>
      (await query(sql, params)).rows[0] as T | undefined,
    run: async (sql: string, params?: readonly SqlValue[]) => ({ changes: (await query(sql, params)).rowCount ?? 0 }),
  };
}

/**
 * An executor that notes whether the current request wrote anything (any statement but a plain
 * SELECT counts) and whether one of its statements failed: what decides whether a failed request
 * can be left out of a batch without a savepoint.
 */
function trackingExecutor(client: pg.PoolClient): Sql & { wrote: boolean; failed: boolean } {
  const inner = executor(client);
  const tracked = {
    dialect: POSTGRES_DIALECT,
    // A request that fails without writing is left in the batch with its locks still held, so
    // what was noted stays true; any other failure rolls the whole batch back with this set.
    heldLocks: new HeldLocks(),
    wrote: false,
    failed: false,
    async all<T extends object>(sql: string, params?: readonly SqlValue[]): Promise<T[]> {
      note(sql);
      return inner.all<T>(sql, params).catch(failed);
    },
    async get<T extends object>(sql: string, params?: readonly SqlValue[]): Promise<T | undefined> {
      note(sql);
      return inner.get<T>(sql, params).catch(failed);
    },
    async run(sql: string, params?: readonly SqlValue[]): Promise<{ changes: number }> {
      note(sql);
      return inner.run(sql, params).catch(failed);
    },
  };
  const note = (sql: string): void => {
    if (!tracked.wrote && !/^\s*SELECT\b/i.test(sql)) tracked.wrote = true;
  };
  const failed = (error: unknown): never => {
    tracked.failed = true;
    throw error;
  };
  return tracked;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown } | { ok: "again" };

/** The connection itself failed (reset, closed, or silent past the query timeout), not the statement. */
function connectionLost(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown } | null;
  if (e === null || typeof e !== "object") return false;
  if (typeof e.code === "string" && ["ECONNRESET", "EPIPE", "ETIMEDOUT", "57P01", "57P02", "57P03"].includes(e.code)) return true;
  return typeof e.message === "string" && /Connection terminated|Query read timeout|not queryable/i.test(e.message);
}

const ITEM_ATTEMPTS_MAX = 5;

/** FNV-1a: a lane name → a lane, the same in every process. */
function laneIndex(name: string, lanes: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return (h >>> 0) % lanes;
}

/**
 * Two lanes per core of this machine, within 4–16. A lane's batch spends most of its time waiting
 * for round trips, so a core serves more than one; beyond that, more lanes only make smaller
 * batches, each paying its own BEGIN, COMMIT and WAL flush. Measured with `npm run bench` (W3,
 * W4) on 2 cores: 4 lanes beat 8 by a tenth and 14 by a fifth on spread-out load.
 */
export const LANES_DEFAULT = Math.min(16, Math.max(4, 2 * availableParallelism()));

/** One batch at a time runs per lane; its queue holds what waits for the next. */
interface Lane {
  readonly queue: QueuedTransaction[];
  running: boolean;
}

interface QueuedTransaction {
  run: (tx: Sql) => Promise<unknown>;
  /** How many times this transaction has lost a deadlock or serialisation conflict. */
  conflicts: number;
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/**
 * PostgreSQL through a `pg` pool. Transactions run at READ COMMITTED; ledger code takes the
 * account's balance row with `SELECT … FOR UPDATE` before changing it, so any number of server
 * processes sharing the database serialise on the same row lock.
 *
 * Group commit: transactions are queued, and each free connection takes everything queued (up to
 * `batchTransactionsMax`) into ONE database transaction with a savepoint per request. Requests
 * that arrive together share one commit (one WAL flush), each still succeeds or fails on its own,
 * and a batch takes each account's row lock once. An idle server runs batches of one.
 *
 * Lanes: a transaction that names what it locks first (an account, `TransactionOptions.lane`)
 * queues in that account's lane, and each lane runs one batch at a time. All of a hot account's
 * requests therefore go into one batch, which takes the account's row lock once and holds it
 * while they run one after another; without lanes, every concurrent batch would start with the
 * same row and wait for the previous batch's commit. Accounts spread over the lanes, so batches
 * running side by side rarely meet on a row at all. Transactions without a lane go round-robin.
 *
 * Batches on different connections can still take row locks in opposite orders (a transaction
 * without a lane, or an account named once by id and once by external id), so two batches can
 * deadlock. PostgreSQL then fails one statement; that request is rolled back to its savepoint
 * and run again in a LATER batch, never in this one: the locks its batch-mates already hold are
 * kept until this batch commits, so retrying in place would only rebuild the same cycle. After
 * the commit those locks are gone and the retry makes progress.
 */
export class PostgresDatabase implements Database {
  readonly dialect = POSTGRES_DIALECT;
  readonly pool: pg.Pool;
  private readonly poolExecutor: Sql;
  private readonly lanes: Lane[];
  private nextFreeLane = 0;
  private readonly connectionString: string;
  private readonly feeds = new Set<PgChangeFeed>();
  private readonly batchTransactionsMax: number;

  constructor(options: PostgresOptions) {
    this.connectionString = options.connectionString;
    const poolSize = options.poolSize ?? 16;
    const statementTimeoutMs = options.statementTimeoutMs ?? 30_000;
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: poolSize,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 5000,
      statement_timeout: statementTimeoutMs,
      // statement_timeout is enforced by the server; when the server or the network goes silent
      // (a partition drops packets, no reset arrives) only a client-side bound stops a request
      // from hanging. It is a little longer, so a slow statement still ends with the server's error.
      query_timeout: statementTimeoutMs + 2000,
      keepAlive: true,
      idleTimeoutMillis: 30_000,
    });
    // An idle client losing its connection (database restart) must not crash the process.
    this.pool.on("error", () => {});
    // Nor a checked-out one: the pool stops listening for a client's errors while it is lent
    // out, and a connection that dies between two of its queries would otherwise be an
    // unhandled 'error' event that kills the process. Its next query fails (→ 503) instead.
    this.pool.on("connect", (client) => client.on("error", () => {}));
    this.poolExecutor = executor(this.pool);
    // One lane per connection, leaving connections for reads and migrations.
    const lanes = Math.max(1, Math.min(options.lanes ?? LANES_DEFAULT, poolSize - 2));
    this.lanes = Array.from({ length: lanes }, () => ({ queue: [], running: false }));
    this.batchTransactionsMax = options.batchTransactionsMax ?? 64;
  }

  transaction<T>(fn: (tx: Sql) => Promise<T>, options?: TransactionOptions): Promise<T> {
    const lane =
      options?.lane !== undefined ? this.lanes[laneIndex(options.lane, this.lanes.length)]! : this.lanes[this.nextFreeLane++ % this.lanes.length]!;
    return new Promise<T>((resolve, reject) => {
      lane.queue.push({ run: fn, conflicts: 0, resolve: resolve as (v: unknown) => void, reject });
      this.wake(lane);
    });
  }

  private wake(lane: Lane): void {
    if (lane.running) return;
    lane.running = true;
    void this.runLane(lane);
  }

  private async runLane(lane: Lane): Promise<void> {
    try {
      while (lane.queue.length > 0) {
        const batch = lane.queue.splice(0, this.batchTransactionsMax);
        await this.runBatch(lane, batch);
      }
    } finally {
      lane.running = false;
    }
  }

  private async runBatch(lane: Lane, batch: QueuedTransaction[]): Promise<void> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    let outcomes: Outcome[];
    try {
      outcomes = (await this.runWithoutSavepoints(client, batch)) ?? (await this.runWithSavepoints(client, batch));
    } catch (error) {
      // The connection or the commit failed: nothing in this batch is known to be durable.
      // Destroying the connection rolls the transaction back on the server; an explicit ROLLBACK
      // on a silent connection would only wait out another query timeout.
      client.release(true);
      for (const item of batch) item.reject(error);
      return;
    }
    client.release();
    const again: QueuedTransaction[] = [];
    batch.forEach((item, i) => {
      const outcome = outcomes[i]!;
      if (outcome.ok === "again") again.push(item);
      else if (outcome.ok) item.resolve(outcome.value);
      else item.reject(outcome.error);
    });
    if (again.length > 0) {
      // First in line: they have waited longest. The lane is still running, so it takes them next.
      lane.queue.unshift(...again);
    }
  }

  /**
   * The fast way, one round trip per request cheaper: no savepoints. A request that fails
   * having written nothing, and with no statement of its own failing (a 402 decided from what
   * it read), needs nothing undone and the batch goes on. Anything else (it wrote, or a
   * statement failed and PostgreSQL aborted the transaction) rolls the whole batch back and
   * returns undefined: the caller runs it again with a savepoint per request. Requests may be
   * run again (`Database.transaction`), so the second run is safe.
   */
  private async runWithoutSavepoints(client: pg.PoolClient, batch: QueuedTransaction[]): Promise<Outcome[] | undefined> {
    const tx = trackingExecutor(client);
    const outcomes: Outcome[] = [];
    await client.query("BEGIN");
    for (const item of batch) {
      tx.wrote = false;
      tx.failed = false;
      try {
        outcomes.push({ ok: true, value: await item.run(tx) });
      } catch (error) {
        if (connectionLost(error)) throw error;
        if (tx.wrote || tx.failed) {
          await client.query("ROLLBACK");
          return undefined;
        }
        outcomes.push({ ok: false, error });
      }
    }
    await client.query("COMMIT");
    return outcomes;
  }

  private async runWithSavepoints(client: pg.PoolClient, batch: QueuedTransaction[]): Promise<Outcome[]> {
    const heldLocks = new HeldLocks();
    const tx = executor(client, heldLocks);
    const outcomes: Outcome[] = [];
    // Transaction control goes as multi-statement simple queries: one round trip each for
    // "begin + first savepoint" and "release + next savepoint", since every round trip costs
    // a write and a read syscall on both ends. A savepoint stays established after ROLLBACK
    // TO, so the next request's RELEASE always finds it; COMMIT releases the last one.
    await client.query("BEGIN; SAVEPOINT tx");
    for (const [i, item] of batch.entries()) {
      if (i > 0) await client.query("RELEASE SAVEPOINT tx; SAVEPOINT tx");
      const mark = heldLocks.mark;
      try {
        outcomes.push({ ok: true, value: await item.run(tx) });
      } catch (error) {
        // A dead or silent connection cannot roll back either: fail the batch at once.
        if (connectionLost(error)) throw error;
        await client.query("ROLLBACK TO SAVEPOINT tx");
        // Row locks taken inside a savepoint are released by its rollback.
        heldLocks.rollbackTo(mark);
        if (isContention(error) && ++item.conflicts < ITEM_ATTEMPTS_MAX) outcomes.push({ ok: "again" });
        else outcomes.push({ ok: false, error });
      }
    }
    await client.query("COMMIT");
    return outcomes;
  }

  async read<T>(fn: (q: Sql) => Promise<T>): Promise<T> {
    return fn(this.poolExecutor);
  }

  /**
   * Runs `fn` in one transaction on a dedicated connection while holding a session advisory
   * lock (migrations: concurrent starts of several processes apply them one at a time).
   */
  async exclusive<T>(lockId: number, fn: (tx: Sql) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query("SELECT pg_advisory_lock($1)", [lockId]);
      try {
        await client.query("BEGIN");
        const result = await fn(executor(client));
        await client.query("COMMIT");
        return result;
      } catch (error) {
        await client.query("ROLLBACK").catch(() => undefined);
        throw error;
      } finally {
        await client.query("SELECT pg_advisory_unlock($1)", [lockId]).catch(() => undefined);
      }
    } finally {
      client.release();
    }
  }

  async exec(sql: string): Promise<void> {
    await this.pool.query(sql);
  }

  connectionStats(): ConnectionStats {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount };
  }

  async ping(): Promise<boolean> {
    try {
      await this.pool.query("SELECT 1");
      return true;
    } catch {
      return false;
    }
  }

  /** LISTEN on its own connection (a pooled one would be handed to others between queries). */
  listen(channel: string, onNotify: () => void): ChangeFeed {
    const feed = new PgChangeFeed(this.connectionString, channel, onNotify, () => this.feeds.delete(feed));
    this.feeds.add(feed);
    return feed;
  }

  private closing: Promise<void> | undefined;

  /** Idempotent, like the SQLite database's: a second close (e.g. shutdown racing a test) is a no-op. */
  close(): Promise<void> {
    return (this.closing ??= (async () => {
      await Promise.all([...this.feeds].map((feed) => feed.close()));
      await this.pool.end();
    })());
  }
}

import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import BetterSqlite3 from "better-sqlite3";
import pg from "pg";
import { seed } from "./seed.ts";
import { pgTarget, recreateDatabase } from "./pg-target.ts";
import { CLOCK_TICKS_PER_SECOND, cpuTicks } from "./proc-cpu.ts";
import { openDatabase } from "../packages/server/src/store/open.ts";
import { deduct } from "../packages/server/src/domain/credits.ts";
import { confirm, reserve } from "../packages/server/src/domain/reservations.ts";
import { systemClock } from "../packages/server/src/domain/clock.ts";
import { walCoalescingStats } from "../packages/server/src/store/sqlite/wal-coalesce.ts";

/**
 * `npm run bench:ledger`: deducts (or reserve + confirm pairs) run in-process, straight into the
 * ledger's domain code on SQLite (durable, synchronous=FULL) or PostgreSQL, with no HTTP in the
 * way: what an operation costs the ledger and the database alone, round after round on one
 * growing ledger. A cost that climbs from round to round is something that grows with the ledger
 * or the WAL (this is how session 13 found a WAL that never started over). `--statements` also
 * times every statement by its SQL text: on PostgreSQL that is each round trip, so its calls per
 * operation are the number to compare (they do not move with the machine's speed).
 */

const HELP = `Usage: npm run bench:ledger -- [options]

  --seconds S       seconds per round (default 5)
  --rounds N        measured rounds, after one round of warm-up (default 4)
  --accounts N      accounts seeded (default 10,000)
  --concurrency N   operations in flight at once (default 64, as the HTTP bench's connections)
  --workload W      deduct (default), or pairs: a reservation, then its confirm (W5's work)
  --hot             every operation on one account (W2's and W4's shape) instead of a random one
  --pg-url URL      run on PostgreSQL instead: the database named there is dropped and re-created
                    (and dropped at the end), e.g. postgres://postgres@127.0.0.1:5432/tally_bench
  --statements      time each statement (µs and calls per operation), per round; on PostgreSQL
                    the time is each round trip's, from sending it to its answer
`;

const { values: args } = parseArgs({
  args: process.argv.slice(2),
  options: {
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "4" },
    accounts: { type: "string", default: "10000" },
    concurrency: { type: "string", default: "64" },
    statements: { type: "boolean", default: false },
    workload: { type: "string", default: "deduct" },
    hot: { type: "boolean", default: false },
    "pg-url": { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

function positiveInteger(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got ${value}`);
  return n;
}
const roundMs = positiveInteger("seconds", args.seconds) * 1000;
const rounds = positiveInteger("rounds", args.rounds);
const accountsCount = positiveInteger("accounts", args.accounts);
const concurrency = positiveInteger("concurrency", args.concurrency);
if (args.workload !== "deduct" && args.workload !== "pairs") throw new Error(`--workload must be deduct or pairs, got ${args.workload}`);
const workload: "deduct" | "pairs" = args.workload;
const unit = workload === "deduct" ? "deduct" : "pair";

/** SQL text → calls and nanoseconds, when --statements wraps the driver's statement methods. */
const statementTimes = new Map<string, { calls: number; ns: bigint }>();

/** A statement's SQL on one line, its start and its end: statements that share a long start (the same columns) differ at the end. */
function statementLabel(sql: string): string {
  const line = sql.replace(/\s+/g, " ").trim();
  return line.length <= 110 ? line : `${line.slice(0, 70)} … ${line.slice(-36)}`;
}

function countStatement(key: string, startedNs: bigint): void {
  const entry = statementTimes.get(key) ?? { calls: 0, ns: 0n };
  entry.calls++;
  entry.ns += process.hrtime.bigint() - startedNs;
  statementTimes.set(key, entry);
}

/** Every `client.query` (a round trip: Tally sends no pipelined statements), timed to its answer. */
function timePgStatements(): void {
  const proto = pg.Client.prototype as unknown as { query: (this: pg.Client, ...a: unknown[]) => unknown };
  const original = proto.query;
  proto.query = function (this: pg.Client, ...params: unknown[]) {
    const first = params[0];
    const text = typeof first === "string" ? first : (first as { text?: string } | null)?.text ?? "?";
    const startedNs = process.hrtime.bigint();
    const result = original.apply(this, params);
    const key = `query ${statementLabel(text)}`;
    if (result instanceof Promise) return result.finally(() => countStatement(key, startedNs));
    countStatement(key, startedNs);
    return result;
  };
}

function timeStatements(): void {
  const probe = new BetterSqlite3(":memory:");
  const proto = Object.getPrototypeOf(probe.prepare("SELECT 1")) as Record<"run" | "get" | "all", (...a: unknown[]) => unknown>;
  probe.close();
  for (const method of ["run", "get", "all"] as const) {
    const original = proto[method];
    proto[method] = function (this: { source: string }, ...params: unknown[]) {
      const startedNs = process.hrtime.bigint();
      try {
        return original.apply(this, params);
      } finally {
        countStatement(`${method} ${statementLabel(this.source)}`, startedNs);
      }
    };
  }
}

/** CPU time of this process's main thread (the event loop), from /proc; undefined off Linux. */
function mainThreadCpuMs(): number | undefined {
  const ticks = cpuTicks(process.pid, process.pid);
  return ticks === null ? undefined : (ticks * 1000) / CLOCK_TICKS_PER_SECOND;
}

/**
 * Frames SQLite appended to WAL files in this process so far (every connection's), from the
 * WAL-coalescing shim's counters: SQLite writes a frame as two calls (its header, then the page).
 * Undefined without the shim, or on PostgreSQL.
 */
function walFramesSoFar(): number | undefined {
  const probe = new BetterSqlite3(":memory:");
  try {
    const writes = walCoalescingStats(probe)?.writes;
    return writes === undefined ? undefined : writes / 2;
  } finally {
    probe.close();
  }
}

function fileMb(path: string): string {
  try {
    return (statSync(path).size / 1048576).toFixed(0);
  } catch {
    return "0";
  }
}

const pgUrl = args["pg-url"];
const target = pgUrl === undefined ? undefined : pgTarget(pgUrl);
if (args.statements) {
  if (target === undefined) timeStatements();
  else timePgStatements();
}
const dir = mkdtempSync(join(tmpdir(), "tally-ledger-bench-"));
const path = join(dir, "tally.db");
if (target !== undefined) await recreateDatabase(target, true, true);
try {
  const url = target?.databaseUrl ?? `sqlite:${path}`;
  const seeded = await seed(url, accountsCount, (line) => console.log(line));
  const db = openDatabase(url, { synchronous: "FULL" });
  const files = (): string => (target === undefined ? `; WAL file ${fileMb(`${path}-wal`)} MB, database ${fileMb(path)} MB` : "");
  try {
    const scope = { db, clock: systemClock, appId: seeded.appId };
    let keyCounter = 0;
    const round = async (label: string): Promise<void> => {
      statementTimes.clear();
      const endMs = Date.now() + roundMs;
      let done = 0;
      const cpuBeforeMs = mainThreadCpuMs();
      const framesBefore = target === undefined ? walFramesSoFar() : undefined;
      const startedMs = Date.now();
      await Promise.all(
        Array.from({ length: concurrency }, async () => {
          while (Date.now() < endMs) {
            const accountId = args.hot ? seeded.hotAccount : seeded.accounts[Math.floor(Math.random() * seeded.accounts.length)]!;
            const key = `ledger-${keyCounter++}`;
            if (workload === "deduct") {
              await deduct(scope, { accountId, amount: 1, operation: "bench.deduct", idempotencyKey: key });
            } else {
              const held = await reserve(scope, { accountId, amount: 1, ttlSeconds: 600, operation: "bench.reserve", idempotencyKey: `${key}-r` });
              if (!("reservation" in held)) throw new Error("a reservation without dryRun answered as a dry run");
              await confirm(scope, held.reservation.id, { idempotencyKey: `${key}-c` });
            }
            done++;
          }
        }),
      );
      const elapsedMs = Date.now() - startedMs;
      const cpuAfterMs = mainThreadCpuMs();
      const framesAfter = framesBefore === undefined ? undefined : walFramesSoFar();
      const perOp =
        (cpuBeforeMs === undefined || cpuAfterMs === undefined ? "" : `, main thread ${(((cpuAfterMs - cpuBeforeMs) * 1000) / done).toFixed(1)} µs/${unit}`) +
        (framesBefore === undefined || framesAfter === undefined ? "" : `, ${((framesAfter - framesBefore) / done).toFixed(2)} WAL frames/${unit}`);
      console.log(
        `${label.padEnd(8)} ${Math.round((done / elapsedMs) * 1000).toLocaleString("en-US")} ${unit}s/s${perOp}${files()}`,
      );
      if (args.statements) {
        let calls = 0;
        for (const t of statementTimes.values()) calls += t.calls;
        console.log(`  ${(calls / done).toFixed(2)} statements/${unit} in all`);
        const rows = [...statementTimes.entries()].sort((a, b) => Number(b[1].ns - a[1].ns)).slice(0, 16);
        for (const [sql, t] of rows) {
          console.log(`  ${(Number(t.ns) / 1000 / done).toFixed(2).padStart(7)} µs/${unit} ${(t.calls / done).toFixed(2).padStart(5)} calls/${unit}  ${sql}`);
        }
      }
    };
    await round("warm-up");
    if (target !== undefined) {
      // What autovacuum's first ANALYZE does within a minute on a real database. Until then the
      // server's prepared statements keep the plans made while the reservations table was empty,
      // which look a key up through the per-account index (a scan of the app's rows; see
      // docs/postgres.md, "Plans that do not need statistics"); ANALYZE replaces them.
      const client = new pg.Client({ connectionString: target.databaseUrl });
      await client.connect();
      await client.query("ANALYZE").finally(() => client.end());
      console.log("  analyzed the tables after warm-up, as autovacuum would in its first minute");
    }
    for (let i = 1; i <= rounds; i++) await round(`round ${i}`);
  } finally {
    await db.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
  if (target !== undefined) await recreateDatabase(target, true, false).catch(() => undefined);
}

import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { describe, expect, it, vi } from "vitest";
import { Checkpointer } from "../../src/store/sqlite/checkpointer.ts";
import { SqliteDatabase } from "../../src/store/sqlite/database.ts";
import type { Sql } from "../../src/store/sql.ts";
import { tempDatabasePaths } from "../support/temp-paths.ts";

const tempPath = tempDatabasePaths("tally-gc-");

for (const synchronous of ["FULL", "NORMAL"] as const) {
  describe(`SQLite group commit (synchronous=${synchronous})`, () => {
    it("answers each of many concurrent transactions with its own result, and a failure fails only itself", async () => {
      const path = tempPath();
      const db = new SqliteDatabase({ path, synchronous });
      db.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
      const results = await Promise.allSettled(
        Array.from({ length: 500 }, (_, i) =>
          db.transaction(async (tx) => {
            await tx.run("INSERT INTO t (k, v) VALUES (?, ?)", [i, `v${i}`]);
            if (i % 7 === 0) throw new Error(`fail ${i}`); // rolled back to its savepoint only
            return i;
          }),
        ),
      );
      const ok = results.filter((r) => r.status === "fulfilled").map((r) => (r as PromiseFulfilledResult<number>).value);
      expect(ok.length).toBe(500 - Math.ceil(500 / 7));
      expect(results.filter((r) => r.status === "rejected").length).toBe(Math.ceil(500 / 7));
      await db.close();
      // What was acknowledged is there after reopening; what failed is not.
      const again = new SqliteDatabase({ path, synchronous });
      const rows = await again.read((q) => q.all<{ k: number }>("SELECT k FROM t ORDER BY k"));
      expect(rows.map((r) => r.k)).toEqual(ok.sort((a, b) => a - b));
      await again.close();
    });

    it("runs a batch once when its failures wrote nothing, keeping every other transaction's writes", async () => {
      const db = new SqliteDatabase({ path: tempPath(), synchronous });
      db.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
      const runs = new Array<number>(200).fill(0);
      const results = await Promise.allSettled(
        runs.map((_, i) =>
          db.transaction(async (tx) => {
            runs[i]!++;
            // Reads first, as a deduct that finds too few credits does: nothing written, nothing to undo.
            await tx.get("SELECT COUNT(*) AS n FROM t");
            if (i % 3 === 0) throw new Error(`refused ${i}`);
            await tx.run("INSERT INTO t (k, v) VALUES (?, ?)", [i, `v${i}`]);
            return i;
          }),
        ),
      );
      expect(runs.every((n) => n === 1)).toBe(true);
      expect(results.filter((r) => r.status === "rejected").length).toBe(Math.ceil(200 / 3));
      const rows = await db.read((q) => q.all<{ k: number }>("SELECT k FROM t ORDER BY k"));
      expect(rows.map((r) => r.k)).toEqual(runs.map((_, i) => i).filter((i) => i % 3 !== 0));
      await db.close();
    });

    it("runs a batch again with savepoints when a transaction fails after writing: its writes vanish, the others' stay, each answered from its last run", async () => {
      const db = new SqliteDatabase({ path: tempPath(), synchronous });
      db.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
      const runs = new Array<number>(50).fill(0);
      const results = await Promise.allSettled(
        runs.map((_, i) =>
          db.transaction(async (tx) => {
            const run = ++runs[i]!;
            await tx.run("INSERT INTO t (k, v) VALUES (?, ?)", [i, `v${i}-run${run}`]);
            if (i === 25) throw new Error("fails after writing");
            return run;
          }),
        ),
      );
      expect(results[25]!.status).toBe("rejected");
      // The batch that held transaction 25 ran twice; a transaction's answer is its last run's.
      expect(runs[25]).toBe(2);
      const rows = await db.read((q) => q.all<{ k: number; v: string }>("SELECT k, v FROM t ORDER BY k"));
      expect(rows.map((r) => r.k)).toEqual(runs.map((_, i) => i).filter((i) => i !== 25));
      for (const row of rows) {
        const result = results[row.k]!;
        expect(result.status).toBe("fulfilled");
        expect(row.v).toBe(`v${row.k}-run${(result as PromiseFulfilledResult<number>).value}`);
      }
      await db.close();
    });

    it("never shows readers a transaction that is still open in a batch", async () => {
      const db = new SqliteDatabase({ path: tempPath(), synchronous });
      db.exec("CREATE TABLE t (k INTEGER PRIMARY KEY)");
      let seenInside = -1;
      await db.transaction(async (tx) => {
        await tx.run("INSERT INTO t (k) VALUES (1)");
        const row = await db.read((q) => q.get<{ n: number }>("SELECT COUNT(*) AS n FROM t"));
        seenInside = row?.n ?? -1;
      });
      expect(seenInside).toBe(0);
      const after = await db.read((q) => q.get<{ n: number }>("SELECT COUNT(*) AS n FROM t"));
      expect(after?.n).toBe(1);
      await db.close();
    });
  });
}

describe("SQLite WAL checkpoints", () => {
  it("checkpoints on a worker thread while writes go on, and the WAL starts over instead of growing with every commit", async () => {
    const path = tempPath();
    const db = new SqliteDatabase({ path, synchronous: "FULL" });
    db.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
    const pad = "x".repeat(2000); // about half a page per row: every transaction dirties new pages
    const { statSync } = await import("node:fs");
    let walBytesMax = 0;
    const rounds = 40;
    for (let round = 0; round < rounds; round++) {
      await Promise.all(Array.from({ length: 500 }, (_, i) => db.transaction((tx) => tx.run("INSERT INTO t (k, v) VALUES (?, ?)", [round * 500 + i, pad]))));
      walBytesMax = Math.max(walBytesMax, statSync(`${path}-wal`).size);
      // Checkpoints run beside the writer; give them the time a real workload's pauses would.
      await new Promise((r) => setTimeout(r, 10));
    }
    // 20,000 rows of 2 kB are ~40 MB of pages: most of it reached the database file while the
    // writes went on, and the WAL never held more than a fraction of it.
    expect(statSync(path).size).toBeGreaterThan(30_000_000);
    expect(walBytesMax).toBeLessThan(20_000_000);
    const rows = await db.read((q) => q.get<{ n: number }>("SELECT count(*) AS n FROM t"));
    expect(rows?.n).toBe(rounds * 500);
    await db.close();
  });

  it("keeps the WAL bounded when writes never pause, though each checkpoint then ends with more committed than the catch-up allowance", async () => {
    const path = tempPath();
    // A checkpoint every 50 transactions: the WAL must start over every 200, and at the latest
    // every 1,000. With 64 writers always queued, every checkpoint ends with a batch or more
    // committed meanwhile, so checkpoints chain one after another.
    const db = new SqliteDatabase({ path, synchronous: "NORMAL", checkpointEveryTransactions: 50 });
    db.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
    // A checkpoint asked for while another runs is refused, and the WAL cannot start over then.
    const refused: unknown[] = [];
    const run = Checkpointer.prototype.run;
    const spy = vi.spyOn(Checkpointer.prototype, "run").mockImplementation(function (this: Checkpointer) {
      return run.call(this).catch((error: unknown) => {
        refused.push(error);
        throw error;
      });
    });
    const pad = "x".repeat(2000);
    const { statSync } = await import("node:fs");
    const total = 12_000;
    let next = 0;
    let walBytesMax = 0;
    try {
      await Promise.all(
        Array.from({ length: 64 }, async () => {
          while (next < total) {
            const k = next++;
            await db.transaction((tx) => tx.run("INSERT INTO t (k, v) VALUES (?, ?)", [k, pad]));
            if (k % 200 === 0) walBytesMax = Math.max(walBytesMax, statSync(`${path}-wal`).size);
          }
        }),
      );
      // 12,000 rows of 2 kB are ~25 MB of pages; 1,000 transactions' worth is ~2.5 MB.
      expect(statSync(path).size + statSync(`${path}-wal`).size).toBeGreaterThan(24_000_000);
      expect(walBytesMax).toBeLessThan(8_000_000);
      expect(refused).toEqual([]);
      // The WAL header's checkpoint sequence number counts the times the WAL started over.
      // At the latest every 1,000 transactions (less the first round and the last, unfinished one).
      expect(readFileSync(`${path}-wal`).readUInt32BE(12)).toBeGreaterThanOrEqual(total / 1000 - 2);
    } finally {
      spy.mockRestore();
    }
    const rows = await db.read((q) => q.get<{ n: number }>("SELECT count(*) AS n FROM t"));
    expect(rows?.n).toBe(total);
    await db.close();
  });
});

/** SQLite's temporary files (named etilqs_…) this process holds open, as /proc lists them. */
function openTemporaryFiles(): string[] {
  const found: string[] = [];
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const target = readlinkSync(`/proc/self/fd/${fd}`);
      if (target.includes("etilqs_")) found.push(target);
    } catch {
      // Closed between the listing and the read.
    }
  }
  return found;
}

describe("SQLite savepoints inside a batch", () => {
  it.skipIf(process.platform !== "linux")(
    "keep their sub-journal in memory: a transaction that touches many pages opens no temporary file, and a failed one still rolls back exactly",
    async () => {
      const db = new SqliteDatabase({ path: tempPath(), synchronous: "FULL" });
      db.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)");
      const pad = "y".repeat(3000);
      // 40 rows of 3 kB, a page each. Every later transaction rewrites all 40, so its savepoint
      // copies ~40 pages (160 kB) into the sub-journal, well past the 64 KiB at which SQLite
      // would otherwise move the sub-journal to a temporary file.
      await db.transaction(async (tx) => {
        for (let k = 0; k < 40; k++) await tx.run("INSERT INTO t (k, v) VALUES (?, ?)", [k, pad]);
      });
      const seen: string[] = [];
      const results = await Promise.allSettled(
        Array.from({ length: 8 }, (_, i) =>
          db.transaction(async (tx) => {
            await tx.run("UPDATE t SET v = ?", [`${i}`.repeat(3000)]);
            seen.push(...openTemporaryFiles());
            if (i === 5) throw new Error("rolled back to its savepoint");
            return i;
          }),
        ),
      );
      expect(seen).toEqual([]);
      expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "fulfilled", "fulfilled", "fulfilled", "rejected", "fulfilled", "fulfilled"]);
      // The last successful transaction's value is everywhere; the failed one's nowhere.
      const rows = await db.read((q) => q.all<{ v: string }>("SELECT DISTINCT v FROM t"));
      expect(rows.map((r) => r.v)).toEqual(["7".repeat(3000)]);
      await db.close();
    },
  );
});

describe("SQLite bulk transactions", () => {
  it("run alone in their batch with sorts allowed to spill to disk; every other transaction sorts in memory", async () => {
    const db = new SqliteDatabase({ path: tempPath(), synchronous: "FULL" });
    const tempStore = (tx: Sql) => tx.get<{ temp_store: number }>("PRAGMA temp_store").then((r) => r?.temp_store);
    const [before, bulk, after] = await Promise.all([
      db.transaction(tempStore),
      db.transaction(tempStore, { bulk: true }),
      db.transaction(tempStore),
    ]);
    // Queued in one turn, so without `bulk` all three would share one batch, and SQLite cannot
    // change temp_store inside a transaction: the bulk one ran alone. 2 = MEMORY, 0 = the build's
    // default (temporary files).
    expect([before, bulk, after]).toEqual([2, 0, 2]);
    await db.close();
  });
});

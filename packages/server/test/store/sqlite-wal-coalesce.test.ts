import BetterSqlite3 from "better-sqlite3";
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { SqliteDatabase } from "../../src/store/sqlite/database.ts";
import { ensureWalCoalescing, walCoalescingStats } from "../../src/store/sqlite/wal-coalesce.ts";
import { tempDatabasePaths } from "../support/temp-paths.ts";

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const tempPath = tempDatabasePaths("tally-walc-");

/*
 * A child process that commits the way Tally does (WAL, synchronous=NORMAL, then an fdatasync of
 * the WAL through a descriptor of its own, outside SQLite), says which commits it made durable, and
 * dies by SIGKILL. A tiny page cache makes every transaction spill pages to the WAL and then write
 * them again, so SQLite also overwrites frames in place and rewrites their checksums at commit:
 * the path where the shim's last bytes are flushed at the wal-index barrier, not at the commit frame.
 */
const CHILD = `
const Database = require("better-sqlite3");
const fs = require("node:fs");
const [library, path] = process.argv.slice(1);
const boot = new Database(":memory:");
boot.loadExtension(library, "sqlite3_walcoalesce_init");
boot.close();
const db = new Database(path);
db.pragma("journal_mode = WAL");
db.pragma("synchronous = NORMAL");
db.pragma("wal_autocheckpoint = 0");
db.pragma("cache_size = 8");
db.exec("CREATE TABLE IF NOT EXISTS t (k INTEGER PRIMARY KEY, v TEXT)");
const walFd = fs.openSync(path + "-wal", "r");
const upsert = db.prepare("INSERT INTO t (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v");
for (let round = 0; round < 12; round++) {
  db.exec("BEGIN");
  for (let pass = 0; pass < 4; pass++) for (let k = 0; k < 300; k++) upsert.run(k, "r" + round + "p" + pass + ":" + "x".repeat(200));
  db.exec("COMMIT");
  fs.fdatasyncSync(walFd);
  process.stdout.write("durable " + round + "\\n");
}
const [{ s }] = db.prepare("SELECT tally_wal_coalesce_stats() AS s").all();
process.stdout.write("stats " + s + "\\n");
process.kill(process.pid, "SIGKILL");
`;

describe("SQLite WAL-coalescing VFS", () => {
  it("is built and loaded, so a batch of 200 transactions reaches the WAL in a few writes instead of two per page", async () => {
    const state = ensureWalCoalescing();
    expect(state).toMatchObject({ active: true });
    const path = tempPath();
    const db = new SqliteDatabase({ path, synchronous: "FULL" });
    db.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT); CREATE INDEX t_v ON t (v)");
    const probe = new BetterSqlite3(":memory:");
    const before = walCoalescingStats(probe)!;
    // Queued together, so they share one batch and one commit.
    await Promise.all(Array.from({ length: 200 }, (_, i) => db.transaction((tx) => tx.run("INSERT INTO t (k, v) VALUES (?, ?)", [i, `${"v".repeat(300)}${i}`]))));
    const after = walCoalescingStats(probe)!;
    probe.close();
    const writes = after.writes - before.writes;
    const flushes = after.flushes - before.flushes;
    // ~60 KB of rows and their index: dozens of pages, two writes each, turned into one or two.
    expect(writes).toBeGreaterThan(40);
    expect(flushes).toBeLessThanOrEqual(4);
    const rows = await db.read((q) => q.get<{ n: number }>("SELECT count(*) AS n FROM t"));
    expect(rows?.n).toBe(200);
    await db.close();
  });

  it("paces a checkpoint's writes to the database file (a writeback every 256 KiB) and the checkpointed file holds every row", async () => {
    const path = tempPath();
    const writer = new BetterSqlite3(path);
    writer.pragma("journal_mode = WAL");
    writer.pragma("wal_autocheckpoint = 0");
    writer.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
    const insert = writer.prepare("INSERT INTO t (k, v) VALUES (?, ?)");
    writer.transaction(() => {
      for (let i = 0; i < 2000; i++) insert.run(i, "x".repeat(1000)); // ~2 MB of pages
    })();
    const before = walCoalescingStats(writer)!;
    const [result] = writer.pragma("wal_checkpoint(TRUNCATE)") as Array<{ busy: number; checkpointed: number }>;
    const after = walCoalescingStats(writer)!;
    expect(result?.busy).toBe(0);
    if (process.platform === "linux") expect(after.writebacks - before.writebacks).toBeGreaterThanOrEqual(4);
    writer.close();
    const again = new BetterSqlite3(path);
    expect(again.pragma("integrity_check", { simple: true })).toBe("ok");
    expect((again.prepare("SELECT count(*) AS n FROM t").get() as { n: number }).n).toBe(2000);
    again.close();
  });

  it("a reader on another connection sees every commit as soon as it is acknowledged", async () => {
    const path = tempPath();
    const db = new SqliteDatabase({ path, synchronous: "FULL" });
    db.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT)");
    for (let i = 0; i < 100; i++) {
      await db.transaction((tx) => tx.run("INSERT INTO t (k, v) VALUES (?, ?)", [i, "x".repeat(1000)]));
      const row = await db.read((q) => q.get<{ n: number }>("SELECT count(*) AS n FROM t"));
      expect(row?.n).toBe(i + 1);
    }
    await db.close();
  });

  it("every commit made durable survives SIGKILL, including transactions that rewrite WAL frames in place", () => {
    const state = ensureWalCoalescing();
    if (!state.active) throw new Error(`the shim is not active: ${state.reason}`);
    const path = tempPath();
    const child = spawnSync(process.execPath, ["-e", CHILD, state.library, path], { cwd: PACKAGE_DIR, encoding: "utf8", timeout: 60_000 });
    expect(child.signal).toBe("SIGKILL");
    const durable = [...child.stdout.matchAll(/durable (\d+)/g)].map((m) => Number(m[1]));
    expect(durable.at(-1)).toBe(11);
    const [writes, flushes] = /stats (\d+),(\d+),(\d+)/.exec(child.stdout)!.slice(1).map(Number);
    expect(flushes!).toBeLessThan(writes!);
    // Reopening runs WAL recovery from the file alone (the dead process's buffers are gone).
    const db = new BetterSqlite3(path);
    expect(db.pragma("integrity_check", { simple: true })).toBe("ok");
    const rows = db.prepare("SELECT v FROM t ORDER BY k").all() as Array<{ v: string }>;
    expect(rows.length).toBe(300);
    expect(rows.every((r) => r.v.startsWith("r11p3:"))).toBe(true);
    db.close();
  });
});

import BetterSqlite3 from "better-sqlite3";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

/*
 * The WAL-coalescing VFS (packages/server/native/wal-coalesce.c): SQLite appends a commit to the
 * WAL with two system calls per page; the shim hands each commit to the file in one write, before
 * SQLite publishes it. It also paces checkpoints' writes to the database file, so they do not
 * crowd the disk's queue in front of the WAL syncs that acknowledge requests. It is a loadable
 * extension that registers itself as the process's default VFS, so it must be loaded before the
 * first connection opens; every connection opened afterwards in this process (the writer, the
 * reader, the checkpoint worker) uses it. Built at install (`npm install` runs the server's
 * build); without it SQLite writes frame by frame as usual, and `tally serve` logs a warning.
 */

/** Where the library is, from the bundle (dist/tally.mjs) or from the sources (src/store/sqlite). */
const CANDIDATES = [new URL("./wal-coalesce.so", import.meta.url), new URL("../../../dist/wal-coalesce.so", import.meta.url)];

export type WalCoalescing = { active: true; library: string } | { active: false; reason: string };

let state: WalCoalescing | undefined;

/**
 * Loads the shim once per process. `TALLY_SQLITE_WAL_COALESCE=off` turns it off (it must then be
 * off for the process's first database, since the VFS stays registered once loaded).
 */
export function ensureWalCoalescing(): WalCoalescing {
  if (state !== undefined) return state;
  const setting = (process.env["TALLY_SQLITE_WAL_COALESCE"] ?? "on").toLowerCase();
  if (setting === "off" || setting === "0" || setting === "false") return (state = { active: false, reason: "turned off by TALLY_SQLITE_WAL_COALESCE" });
  const library = CANDIDATES.map((url) => (url.protocol === "file:" ? fileURLToPath(url) : "")).find((path) => path !== "" && existsSync(path));
  if (library === undefined) return (state = { active: false, reason: "not built (no C compiler at install?)" });
  const loader = new BetterSqlite3(":memory:");
  try {
    // SQLite derives the entry point from the file name: wal-coalesce.so → sqlite3_walcoalesce_init.
    loader.loadExtension(library);
    state = { active: true, library };
  } catch (error) {
    state = { active: false, reason: `could not load ${library}: ${error instanceof Error ? error.message : String(error)}` };
  } finally {
    loader.close();
  }
  return state;
}

/**
 * WAL writes SQLite made in this process, the writes the shim turned them into, and the paced
 * writebacks of database files its checkpoints made.
 */
export function walCoalescingStats(db: BetterSqlite3.Database): { writes: number; flushes: number; writebacks: number } | undefined {
  try {
    const row = db.prepare("SELECT tally_wal_coalesce_stats() AS s").get() as { s: string };
    const [writes, flushes, writebacks] = row.s.split(",").map(Number);
    return { writes: writes!, flushes: flushes!, writebacks: writebacks! };
  } catch {
    return undefined;
  }
}

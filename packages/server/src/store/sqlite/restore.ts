import BetterSqlite3 from "better-sqlite3";
import { copyFileSync, existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Restoring a SQLite backup over a live database would corrupt it: the server keeps its pages
 * cached and its WAL open while the file changes under it. And a backup that does not open, or
 * does not add up, must not replace a database that does. So a restore stages the backup beside
 * its target, checks the staged copy, and only then renames it into place, each step refusing
 * while anyone has the target open.
 */

export class RestoreRefused extends Error {}

/**
 * Whether another connection, in this process or any other, has the SQLite database at `path`
 * open: a running `tally serve`, a backup in progress, a `sqlite3` shell.
 *
 * A connection to a database in WAL mode holds a shared lock on the database file for as long as
 * it is open, busy or idle. So this opens the file on its own connection, asks for an exclusive
 * lock without waiting (`timeout: 0`), and gives it straight back: refused means someone else is
 * there. It changes nothing the database does not already hold (opening a database whose last
 * user crashed replays its WAL into it, as any open does).
 *
 * A file that does not exist, or is not a database, is in nobody's use.
 */
export function sqliteDatabaseInUse(path: string): boolean {
  if (!existsSync(path)) return false;
  let db: BetterSqlite3.Database | undefined;
  try {
    db = new BetterSqlite3(path, { fileMustExist: true, timeout: 0 });
    db.pragma("locking_mode = EXCLUSIVE");
    db.exec("BEGIN EXCLUSIVE");
    db.exec("ROLLBACK");
    return false;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === "SQLITE_BUSY" || code === "SQLITE_LOCKED") return true;
    if (code === "SQLITE_NOTADB") return false;
    throw error;
  } finally {
    db?.close();
  }
}

export interface CheckResult {
  ok: boolean;
  problems: string[];
}

/**
 * Puts the backup at `from` in place as the database at `to`. `check` is given the staged copy's
 * path (a database in its own right) and may open, migrate and verify it; it must close it again.
 * Throws `RestoreRefused`, with `to` untouched, when `to` is in use, when the backup is missing
 * or does not open, or when `check` finds problems.
 */
export async function restoreSqliteFile<R extends CheckResult>(from: string, to: string, check: (stagedPath: string) => Promise<R>): Promise<R> {
  if (!existsSync(from) || !statSync(from).isFile()) throw new RestoreRefused(`no backup file at ${from}; nothing was changed`);
  refuseIfInUse(to);
  mkdirSync(dirname(to), { recursive: true });
  const staged = `${to}.restoring`;
  removeDatabaseFiles(staged);
  copyFileSync(from, staged);
  let result: R;
  try {
    result = await check(staged);
    if (result.ok) foldWal(staged);
  } catch (error) {
    removeDatabaseFiles(staged);
    const reason = error instanceof Error ? error.message : String(error);
    throw new RestoreRefused(`${from} does not open as a Tally database (${reason}); nothing was changed`);
  }
  if (!result.ok) {
    removeDatabaseFiles(staged);
    throw new RestoreRefused(`${from} does not verify; nothing was changed:\n${result.problems.join("\n")}`);
  }
  // Once more, right before the swap: a server may have started meanwhile.
  try {
    refuseIfInUse(to);
  } catch (error) {
    removeDatabaseFiles(staged);
    throw error;
  }
  // The old WAL belongs to the old file: left beside the new one, SQLite would replay it into it.
  rmSync(`${to}-wal`, { force: true });
  rmSync(`${to}-shm`, { force: true });
  renameSync(staged, to);
  return result;
}

function refuseIfInUse(path: string): void {
  if (sqliteDatabaseInUse(path)) {
    throw new RestoreRefused(`${path} is open in another process (a running tally serve?); stop it first. Nothing was changed`);
  }
}

/** Checkpoints a database's WAL into its file and removes it, so that the file alone holds everything. */
function foldWal(path: string): void {
  const db = new BetterSqlite3(path, { fileMustExist: true, timeout: 0 });
  try {
    db.pragma("wal_checkpoint(TRUNCATE)");
  } finally {
    db.close();
  }
  if (existsSync(`${path}-wal`) && statSync(`${path}-wal`).size > 0) throw new Error(`the WAL of ${path} would not fold into it`);
}

function removeDatabaseFiles(path: string): void {
  for (const suffix of ["", "-wal", "-shm", "-journal"]) rmSync(path + suffix, { force: true });
}

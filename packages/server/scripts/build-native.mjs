// Compiles native/wal-coalesce.c (a SQLite VFS shim that writes each commit to the WAL in one
// call; see the file) into dist/wal-coalesce.so against the SQLite headers better-sqlite3 ships,
// when the library is missing or older than its source. Without a C compiler it says so and
// leaves the server on SQLite's own VFS: slower commits, same guarantees.
import { execFileSync } from "node:child_process";
import { mkdirSync, renameSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");
const SOURCE = join(PACKAGE_DIR, "native", "wal-coalesce.c");
export const WAL_COALESCE_LIBRARY = join(PACKAGE_DIR, "dist", "wal-coalesce.so");

function mtimeMs(path) {
  try {
    return statSync(path).mtimeMs;
  } catch {
    return -1;
  }
}

export function nativeIsStale() {
  return mtimeMs(WAL_COALESCE_LIBRARY) < mtimeMs(SOURCE);
}

/** Builds the library if stale; true when an up-to-date library exists afterwards. */
export function buildNative({ quiet = false } = {}) {
  if (!nativeIsStale()) return true;
  if (process.platform === "win32") return false;
  const require = createRequire(import.meta.url);
  const headers = join(dirname(require.resolve("better-sqlite3/package.json")), "deps", "sqlite3");
  const compiler = process.env["CC"] || "cc";
  mkdirSync(dirname(WAL_COALESCE_LIBRARY), { recursive: true });
  // Built beside its final name and renamed, so a running server never loads a half-written file.
  const partial = `${WAL_COALESCE_LIBRARY}.${process.pid}.tmp`;
  try {
    execFileSync(compiler, ["-O2", "-Wall", "-fPIC", "-shared", "-I", headers, SOURCE, "-o", partial], { stdio: ["ignore", "ignore", "pipe"] });
    renameSync(partial, WAL_COALESCE_LIBRARY);
    return true;
  } catch (error) {
    if (!quiet) {
      const detail = error instanceof Error ? error.message.split("\n")[0] : String(error);
      process.stderr.write(`tally: could not build ${SOURCE} (${detail}); SQLite will use its own WAL writes (slower commits, same guarantees)\n`);
    }
    return false;
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) buildNative();

#!/usr/bin/env node
// Runs the whole suite (vitest, every package), then prints one plain closing line:
// "tests: N passed, N failed, N skipped". Exit code is vitest's.
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { buildNative } from "../packages/server/scripts/build-native.mjs";

// The SQLite WAL shim the tests load, rebuilt if its source changed since the install built it.
buildNative();

const out = join(process.cwd(), ".tmp", "vitest-report.json");
mkdirSync(join(process.cwd(), ".tmp"), { recursive: true });
rmSync(out, { force: true });
const args = ["vitest", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${out}`, ...process.argv.slice(2)];
const result = spawnSync("npx", args, { stdio: "inherit", env: process.env });
let summary = "tests: no report written";
try {
  const report = JSON.parse(readFileSync(out, "utf8"));
  const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
  summary = `tests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped`;
  if (report.numTotalTests === 0) {
    console.error("No test ran.");
    process.exitCode = 1;
  }
} catch {
  // vitest crashed before writing its report; its exit code says so.
}
console.log(summary);
process.exitCode = result.status ?? 1;

import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { randomBytes } from "node:crypto";
import type { LoadResult, LoadSpec } from "./load.ts";
import { seed } from "./seed.ts";
import { SERVER_NODE_FLAGS } from "../packages/server/scripts/node-flags.mjs";
import { perfMapPath, readPerfMap, symbolizeDump } from "./js-symbols.ts";

/**
 * `npm run bench:instructions`: CPU instructions per operation, counted by valgrind's callgrind,
 * for the echo server and Tally's hot paths on SQLite. Wall-clock numbers on a shared 2-core
 * machine drift by tens of percent between runs of the same build; an instruction count does not
 * depend on the machine's speed, though V8's garbage collector and tiering still land in a
 * counted window or not: across runs of nearly the same code the main thread's count per deduct
 * ranged over 483k–563k, and balance reads came out at ~170k or ~205k. So it is a profiling aid
 * (with --keep, callgrind's per-function counts, which repeat exactly), not a meter for a 3%
 * change. It counts user-space instructions only (the kernel's share, system calls and copies, is
 * not in it) and the server runs ~50× slower under valgrind, so batches are as large as the
 * client's connection count allows (with the default 64, every batch is full). All threads
 * together also count V8's background compiler and GC and the checkpoints, and move by 20% or more.
 */

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SERVER_MAIN = join(ROOT, "packages/server/bin/tally.mjs");
const LOAD_MAIN = join(ROOT, "bench/load.ts");
const ECHO_MAIN = join(ROOT, "bench/echo-server.ts");

const HELP = `Usage: npm run bench:instructions -- [options]

  --duration S      measured seconds per workload, under valgrind (default 10)
  --warmup S        seconds of the same workload first, not counted (default 10)
  --connections N   client connections (default 64: under valgrind the server is slow enough
                    that every batch is full, which keeps the count steady from run to run)
  --accounts N      accounts seeded (default 2,000)
  --only a,b        workloads: echo, deduct, balance, replay, pairs (default all)
  --out PATH        also write the results as JSON
  --keep            keep the scratch directory with callgrind's dumps (callgrind_annotate FILE
                    lists instructions by function; JavaScript shows as unnamed addresses)
  --js-names        start node with --perf-basic-prof and name JavaScript functions in the dumps
                    (JS:*name file:line); use with --keep
`;

const { values: args } = parseArgs({
  args: process.argv.slice(2),
  options: {
    duration: { type: "string", default: "10" },
    warmup: { type: "string", default: "10" },
    connections: { type: "string", default: "64" },
    keep: { type: "boolean", default: false },
    "js-names": { type: "boolean", default: false },
    accounts: { type: "string", default: "2000" },
    only: { type: "string" },
    out: { type: "string" },
    help: { type: "boolean", default: false },
  },
});
if (args.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

const WORKLOADS = ["echo", "deduct", "balance", "replay", "pairs"] as const;
type Workload = (typeof WORKLOADS)[number];
const only = new Set((args.only ?? WORKLOADS.join(",")).split(",").map((s) => s.trim()));
for (const w of only) if (!(WORKLOADS as readonly string[]).includes(w)) throw new Error(`unknown workload ${w}; known: ${WORKLOADS.join(", ")}`);
const durationS = Number(args.duration);
const warmupS = Number(args.warmup);
const connections = Number(args.connections);
const accountCount = Number(args.accounts);

if (spawnSync("valgrind", ["--version"]).status !== 0) {
  process.stderr.write("valgrind is not installed (apt-get install valgrind); it counts the instructions.\n");
  process.exit(1);
}

const workDir = mkdtempSync(join(tmpdir(), "tally-instructions-"));
const children = new Set<ChildProcess>();
process.on("exit", () => {
  for (const c of children) c.kill("SIGKILL");
  if (args.keep) process.stdout.write(`kept ${workDir}\n`);
  else rmSync(workDir, { recursive: true, force: true });
});

/** Starts `node … script` under callgrind with counting off; it is switched on around each measured window. */
async function startUnderCallgrind(name: string, script: string, argv: string[], env: NodeJS.ProcessEnv, nodeOptions: readonly string[] = []): Promise<{ child: ChildProcess; port: number; outPrefix: string }> {
  const outPrefix = join(workDir, `${name}.callgrind`);
  const loader = script.endsWith(".ts") ? ["--import", "tsx"] : [];
  // --perf-basic-prof also turns on V8's log, which would land in the working directory.
  const profFlags = args["js-names"] ? ["--perf-basic-prof", "--no-logfile-per-isolate", `--logfile=${join(workDir, `${name}.v8.log`)}`] : [];
  const nodeFlags = [...nodeOptions, ...profFlags];
  const child = spawn("valgrind", ["--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes", `--callgrind-out-file=${outPrefix}`, process.execPath, ...nodeFlags, ...loader, script, ...argv], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.add(child);
  child.once("exit", () => {
    children.delete(child);
    if (args["js-names"]) rmSync(perfMapPath(child.pid!), { force: true });
  });
  child.stderr!.resume();
  const port = await new Promise<number>((resolvePort, reject) => {
    let text = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      text += chunk.toString();
      const m = /listening on (?:http:\/\/127\.0\.0\.1:)?(\d+)/.exec(text);
      if (m) resolvePort(Number(m[1]));
    });
    child.once("exit", (code) => reject(new Error(`${name} exited (${code}) before listening`)));
  });
  return { child, port, outPrefix };
}

function control(pid: number, ...command: string[]): void {
  const r = spawnSync("callgrind_control", [...command, String(pid)], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`callgrind_control ${command.join(" ")} failed: ${r.stderr}`);
}

/**
 * Instructions of the newest dump callgrind wrote for this process, per thread (it writes one
 * file per thread: `PREFIX.N-T`, thread 1 being the main thread, where the event loop runs).
 */
function lastDump(outPrefix: string): { mainThread: number; allThreads: number; files: string[] } {
  const dir = dirname(outPrefix);
  const base = outPrefix.slice(dir.length + 1);
  const parsed = readdirSync(dir)
    .map((f) => ({ f, m: new RegExp(`^${base.replaceAll(".", "\\.")}\\.(\\d+)-(\\d+)$`).exec(f) }))
    .filter((x): x is { f: string; m: RegExpExecArray } => x.m !== null)
    .map(({ f, m }) => ({ f, dump: Number(m[1]), thread: Number(m[2]) }));
  const newest = Math.max(...parsed.map((p) => p.dump));
  let mainThread = 0;
  let allThreads = 0;
  const files: string[] = [];
  for (const p of parsed.filter((x) => x.dump === newest)) {
    files.push(join(dir, p.f));
    // `totals:` is the sum over the dump (its `summary:` line can read 0 for a dump on request).
    const m = /^totals: (\d+)/m.exec(readFileSync(join(dir, p.f), "utf8"));
    if (!m) throw new Error(`no totals in ${p.f}`);
    allThreads += Number(m[1]);
    if (p.thread === 1) mainThread += Number(m[1]);
  }
  return { mainThread, allThreads, files };
}

let serial = 0;
function runLoad(spec: Omit<LoadSpec, "resultFile" | "connections" | "warmupS" | "rate">): LoadResult {
  const n = ++serial;
  const full: LoadSpec = { ...spec, connections, warmupS: 0, rate: 0, resultFile: join(workDir, `load-${n}.json`) };
  writeFileSync(join(workDir, `load-${n}.spec.json`), JSON.stringify(full));
  const r = spawnSync(process.execPath, ["--import", "tsx", LOAD_MAIN, join(workDir, `load-${n}.spec.json`)], { cwd: ROOT, encoding: "utf8" });
  if (r.status !== 0) throw new Error(`load generator failed: ${r.stderr.slice(-2000)}`);
  return JSON.parse(readFileSync(full.resultFile, "utf8")) as LoadResult;
}

interface Counted {
  workload: Workload;
  operations: number;
  /** All threads: the event loop, WAL syncs, checkpoints, V8's compiler and GC helpers. */
  instructionsPerOp: number;
  /** The main thread alone, where every request is handled. */
  mainThreadInstructionsPerOp: number;
}

/** Warm-up uncounted, then one counted window; instructions ÷ operations answered in it. */
function count(server: { child: ChildProcess; outPrefix: string }, workload: Workload, spec: Omit<LoadSpec, "resultFile" | "connections" | "warmupS" | "rate" | "durationS">): Counted {
  const pid = server.child.pid!;
  if (warmupS > 0) runLoad({ ...spec, keyPrefix: `${spec.keyPrefix}-w`, durationS: warmupS });
  control(pid, "-z");
  control(pid, "-i", "on");
  const result = runLoad({ ...spec, durationS });
  control(pid, "-i", "off");
  control(pid, "-d");
  if (result.failed > 0 || result.ok === 0) throw new Error(`${workload}: ${result.failed} failed of ${result.ok + result.failed}: ${result.firstFailure ?? "no answer"}`);
  const { mainThread, allThreads, files } = lastDump(server.outPrefix);
  if (args["js-names"]) {
    const ranges = readPerfMap(perfMapPath(pid));
    let named = 0;
    let unknown = 0;
    for (const f of files) {
      const r = symbolizeDump(f, ranges);
      named += r.named;
      unknown += r.unknown;
    }
    process.stdout.write(`  ${workload}: named ${named} JavaScript code addresses, ${unknown} not in the map\n`);
  }
  const counted = { workload, operations: result.ok, instructionsPerOp: allThreads / result.ok, mainThreadInstructionsPerOp: mainThread / result.ok };
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US").padStart(10);
  process.stdout.write(`  ${workload.padEnd(8)} ${fmt(counted.mainThreadInstructionsPerOp)} instructions/op on the main thread, ${fmt(counted.instructionsPerOp)} in all threads, over ${result.ok.toLocaleString("en-US")} ops\n`);
  return counted;
}

async function main(): Promise<void> {
  process.stdout.write(`Instructions per operation (callgrind, user space), ${connections} connections, ${warmupS}s warm-up + ${durationS}s counted; scratch ${workDir}\n`);
  const results: Counted[] = [];
  const base = { host: "127.0.0.1", keyPrefix: `i${randomBytes(4).toString("hex")}`, replayKeys: 0 };
  if (only.has("echo")) {
    const echo = await startUnderCallgrind("echo", ECHO_MAIN, ["--port", "0"], {});
    results.push(count(echo, "echo", { ...base, mode: "closed", port: echo.port, secretKey: "sk_echo", request: "deduct", accounts: ["acct_echo"] }));
    echo.child.kill("SIGTERM");
  }
  const tallyWorkloads = WORKLOADS.filter((w) => w !== "echo" && only.has(w));
  if (tallyWorkloads.length > 0) {
    const databaseUrl = `sqlite:${join(workDir, "tally.db")}`;
    const s = await seed(databaseUrl, accountCount, (line) => process.stdout.write(`${line}\n`));
    const server = await startUnderCallgrind("tally", SERVER_MAIN, ["serve", "--port", "0", "--host", "127.0.0.1", "--database", databaseUrl], {
      TALLY_ADMIN_TOKEN: `admin-${randomBytes(8).toString("hex")}`,
      LOG_LEVEL: "warn",
      TALLY_RATE_LIMIT_PER_SECOND: "1000000",
    }, SERVER_NODE_FLAGS); // the options `npm start` gives the server
    const t = { ...base, port: server.port, secretKey: s.secretKey, accounts: s.accounts };
    for (const w of tallyWorkloads) {
      if (w === "deduct") results.push(count(server, w, { ...t, mode: "closed", request: "deduct" }));
      if (w === "balance") results.push(count(server, w, { ...t, mode: "closed", request: "balance" }));
      if (w === "pairs") results.push(count(server, w, { ...t, mode: "pairs", request: "deduct", keyPrefix: `${t.keyPrefix}-p` }));
      if (w === "replay") {
        const replayKeys = Math.min(1000, s.accounts.length);
        runLoad({ ...t, mode: "prime", request: "replay", replayKeys, keyPrefix: `${t.keyPrefix}-r`, durationS: 0 });
        results.push(count(server, w, { ...t, mode: "closed", request: "replay", replayKeys, keyPrefix: `${t.keyPrefix}-r` }));
      }
    }
    server.child.kill("SIGTERM");
  }
  const echo = results.find((r) => r.workload === "echo");
  const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
  process.stdout.write(`\n| workload | main thread instructions/op | all threads |${echo ? " main thread × echo |" : ""}\n|:--|--:|--:|${echo ? "--:|" : ""}\n`);
  for (const r of results) {
    const ratio = echo ? ` ${(r.mainThreadInstructionsPerOp / echo.mainThreadInstructionsPerOp).toFixed(2)} |` : "";
    process.stdout.write(`| ${r.workload} | ${fmt(r.mainThreadInstructionsPerOp)} | ${fmt(r.instructionsPerOp)} |${ratio}\n`);
  }
  if (args.out !== undefined) writeFileSync(args.out, `${JSON.stringify({ connections, durationS, warmupS, accounts: accountCount, results }, null, 2)}\n`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);

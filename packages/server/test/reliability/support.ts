/**
 * Shared machinery of the reliability tests: servers as child processes, the `tally` CLI, and
 * the bank workload (after Jepsen's bank test) with its checker.
 *
 * The workload keeps a log of every operation it sent and what came back: `ok` (a 2xx, the
 * server acknowledged it), `rejected` (a definite 4xx such as 402, nothing happened) or
 * `unknown` (network error, 5xx, timeout: it may or may not have happened). Every mutating
 * operation carries its own idempotency key in the body, so `resolveUnknown` can retry the
 * unknown ones until each has a definite answer, and the checker can then demand that the
 * ledger holds exactly the acknowledged operations, each exactly once.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
export const CLI = join(REPO_ROOT, "packages/server/src/cli/main.ts");
export const SOAK = process.env["TALLY_SOAK"] === "1";

export type Json = Record<string, unknown>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export { sleep };

/** A port in 20000–29999 that is free right now (random, so parallel suites rarely meet). */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    const ok = await new Promise<boolean>((done) => {
      const s = createServer();
      s.once("error", () => done(false));
      s.listen(port, "127.0.0.1", () => s.close(() => done(true)));
    });
    if (ok) return port;
  }
  throw new Error("no free port in 20000–29999");
}

export function adminToken(): string {
  return `tadm_rel_${randomBytes(12).toString("hex")}`;
}

/** One `tally serve` child process on a fixed port; `start()` again after `kill()` restarts it. */
export class ServerProcess {
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  output = "";
  /** Answering requests: started and ready, not killed since. */
  ready = false;
  readonly url: string;

  constructor(
    readonly port: number,
    readonly databaseUrl: string,
    readonly token: string,
    private readonly env: Record<string, string> = {},
  ) {
    this.url = `http://127.0.0.1:${port}`;
  }

  async start(timeoutMs = 30_000): Promise<void> {
    const child = spawn(process.execPath, ["--import", "tsx", CLI, "serve", "--port", String(this.port), "--host", "127.0.0.1"], {
      cwd: REPO_ROOT,
      env: { ...process.env, TALLY_ADMIN_TOKEN: this.token, TALLY_DATABASE_URL: this.databaseUrl, LOG_LEVEL: "warn", ...this.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child = child;
    const keep = (b: Buffer) => {
      this.output = (this.output + b.toString()).slice(-20_000);
    };
    child.stdout?.on("data", keep);
    child.stderr?.on("data", keep);
    this.exited = new Promise((done) => child.once("exit", () => done()));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}:\n${this.output}`);
      try {
        const res = await fetch(`${this.url}/readyz`, { signal: AbortSignal.timeout(1000) });
        if (res.status === 200) {
          this.ready = true;
          return;
        }
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    throw new Error(`server on ${this.url} not ready after ${timeoutMs} ms:\n${this.output}`);
  }

  /** SIGKILL: no shutdown hook runs, in-flight requests are cut, as in a crash or power loss of the process. */
  async kill(signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
    this.ready = false;
    if (this.child === undefined || this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill(signal);
    await this.exited;
  }

  get running(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }
}

/** Runs the `tally` CLI to completion. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { cwd: REPO_ROOT, env: { ...process.env, LOG_LEVEL: "warn", ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (b: Buffer) => (stdout += b.toString()));
    child.stderr.on("data", (b: Buffer) => (stderr += b.toString()));
    child.once("error", fail);
    child.once("exit", (code) => done({ code: code ?? 1, stdout, stderr }));
  });
}

export interface Reply {
  status: number;
  body: Json;
  ms: number;
}

/** A JSON call; throws on network errors and timeouts (the caller decides what "unknown" means). */
export async function request(baseUrl: string, key: string, method: string, path: string, body?: unknown, timeoutMs = 15_000): Promise<Reply> {
  const started = performance.now();
  const headers: Record<string, string> = { authorization: `Bearer ${key}` };
  if (body !== undefined) headers["content-type"] = "application/json";
  const res = await fetch(baseUrl + path, {
    method,
    headers,
    body: body === undefined ? null : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let parsed: Json = {};
  try {
    parsed = text.length > 0 ? (JSON.parse(text) as Json) : {};
  } catch {
    parsed = { unparsable: text };
  }
  return { status: res.status, body: parsed, ms: performance.now() - started };
}

export async function createApp(baseUrl: string, token: string): Promise<{ appId: string; secretKey: string }> {
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await request(baseUrl, token, "POST", "/v1/apps", { name: "reliability" });
      if (res.status !== 201) throw new Error(`creating an app: ${res.status} ${JSON.stringify(res.body)}`);
      return { appId: (res.body["app"] as Json)["id"] as string, secretKey: res.body["secretKey"] as string };
    } catch (error) {
      if (attempt >= 20) throw error;
      await sleep(100);
    }
  }
}

// ─── the bank workload ────────────────────────────────────────────────────────────────────────

export type OpKind = "grant" | "deduct" | "refund" | "reserve" | "confirm" | "cancel" | "capture";
export type Outcome = "ok" | "rejected" | "unknown";

export interface Op {
  seq: number;
  kind: OpKind;
  key: string;
  path: string;
  body: Json;
  outcome: Outcome;
  status?: number;
  code?: string | undefined;
  /** The ledger transaction the server acknowledged (grant, deduct, refund, capture, confirm). */
  txnId?: string;
  txnAmount?: number;
  reservationId?: string;
  reservationExpiresAtMs?: number;
  /** Acknowledged only on a retry, as already done: the first attempt had committed but its answer was lost. */
  replayed?: boolean;
  startedAtMs: number;
  endedAtMs?: number;
  attempts: number;
}

interface HeldInfo {
  id: string;
  amount: number;
  captured: number;
  /** A capture whose outcome is unknown: `captured` is not known, so confirm without an amount. */
  uncertain: boolean;
}

export interface WorkloadOptions {
  /** Base URLs of the servers; each request goes to a random one (several processes). */
  targets: () => readonly string[];
  key: string;
  accounts: number;
  workers: number;
  snapshotters: number;
  /** Prefix of every idempotency key of this run. */
  runId?: string;
  timeoutMs?: number;
}

/** Codes that are a definite "no": nothing happened, and a retry with the same key would say no again or now succeed. */
const DEFINITE_REJECTIONS = new Set([
  "INSUFFICIENT_CREDITS",
  "RESERVATION_NOT_HELD",
  "RESERVATION_EXPIRED",
  "REFUND_EXCEEDS_ORIGINAL",
  "VALIDATION_ERROR",
]);

export class BankWorkload {
  readonly ops: Op[] = [];
  readonly violations: string[] = [];
  readonly accountIds: string[] = [];
  readonly runId: string;
  snapshots = 0;
  /** Latencies of requests that failed (503, network) — an outage must fail fast. */
  readonly failureLatenciesMs: number[] = [];
  readonly statusCounts = new Map<string, number>();
  private stopped = false;
  private running: Promise<void>[] = [];
  private readonly held = new Map<string, HeldInfo>();
  private readonly spends: Array<{ txnId: string; amount: number; refunded: number }> = [];
  private seq = 0;

  constructor(readonly options: WorkloadOptions) {
    this.runId = options.runId ?? `r${randomBytes(4).toString("hex")}`;
  }

  private target(): string {
    const t = this.options.targets();
    return t[Math.floor(Math.random() * t.length)]!;
  }

  /** Creates the accounts with an opening grant each (retried until acknowledged). */
  async setup(): Promise<void> {
    for (let i = 0; i < this.options.accounts; i++) {
      const op = this.newOp("grant", "/v1/credits/grant", { externalId: `${this.runId}-acct-${i}`, amount: 1000, source: "purchase" });
      for (let attempt = 0; op.outcome !== "ok"; attempt++) {
        if (attempt > 200) throw new Error(`opening grant ${op.key} never succeeded: ${op.status} ${op.code}`);
        if (attempt > 0) await sleep(100);
        await this.send(op);
      }
      this.accountIds.push(((op.txnBody ?? {}) as Json)["accountId"] as string);
    }
  }

  start(): void {
    this.stopped = false;
    for (let i = 0; i < this.options.workers; i++) this.running.push(this.worker());
    for (let i = 0; i < this.options.snapshotters; i++) this.running.push(this.snapshotter());
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.running);
    this.running = [];
  }

  private newOp(kind: OpKind, path: string, body: Json): Op & { txnBody?: Json } {
    const seq = ++this.seq;
    const key = `${this.runId}-${seq}-${kind}`;
    const op: Op = { seq, kind, key, path, body: { ...body, idempotencyKey: key }, outcome: "unknown", startedAtMs: Date.now(), attempts: 0 };
    this.ops.push(op);
    return op;
  }

  private count(label: string): void {
    this.statusCounts.set(label, (this.statusCounts.get(label) ?? 0) + 1);
  }

  /** Sends (or re-sends, with the same key and body) one operation and records the answer. */
  async send(op: Op & { txnBody?: Json }): Promise<void> {
    op.attempts++;
    let reply: Reply;
    const started = performance.now();
    try {
      reply = await request(this.target(), this.options.key, "POST", op.path, op.body, this.options.timeoutMs ?? 15_000);
    } catch (error) {
      this.failureLatenciesMs.push(performance.now() - started);
      this.count(`network:${(error as Error).name}`);
      op.outcome = "unknown";
      return;
    }
    op.status = reply.status;
    const err = reply.body["error"] as Json | undefined;
    op.code = err === undefined ? undefined : (err["code"] as string);
    this.count(`${reply.status}${op.code ? ` ${op.code}` : ""}`);
    if (reply.status >= 500) {
      this.failureLatenciesMs.push(reply.ms);
      if (reply.status !== 503 || op.code !== "UNAVAILABLE") this.violations.push(`${op.kind} ${op.key}: ${reply.status} ${JSON.stringify(reply.body)}`);
      op.outcome = "unknown";
      return;
    }
    if (reply.status === 409 && op.code === "IDEMPOTENCY_KEY_IN_USE") {
      op.outcome = "unknown";
      return;
    }
    if (reply.status >= 400) {
      if (!DEFINITE_REJECTIONS.has(op.code ?? "")) this.violations.push(`${op.kind} ${op.key}: unexpected ${reply.status} ${JSON.stringify(reply.body)}`);
      op.outcome = "rejected";
      op.endedAtMs = Date.now();
      return;
    }
    op.outcome = "ok";
    op.endedAtMs = Date.now();
    if (op.attempts > 1 && reply.body["alreadyProcessed"] === true) op.replayed = true;
    this.checkBalance(reply.body["balance"], `${op.kind} ${op.key}`);
    const txn = reply.body["transaction"] as Json | undefined;
    if (txn !== undefined) {
      op.txnId = txn["id"] as string;
      op.txnAmount = txn["amount"] as number;
      op.txnBody = txn;
      if (txn["idempotencyKey"] !== op.key) this.violations.push(`${op.kind} ${op.key}: acknowledged transaction carries key ${String(txn["idempotencyKey"])}`);
    }
    const rsv = op.kind === "reserve" ? reply.body : (reply.body["reservation"] as Json | undefined);
    if (rsv !== undefined && typeof rsv["id"] === "string") {
      op.reservationId = rsv["id"] as string;
      op.reservationExpiresAtMs = Date.parse(rsv["expiresAt"] as string);
    }
  }

  /** Every balance the server shows: never negative, available = balance − reserved. */
  checkBalance(b: unknown, where: string): void {
    if (typeof b !== "object" || b === null) return;
    const { balance, reserved, available } = b as { balance: number; reserved: number; available: number };
    if (available < 0) this.violations.push(`${where}: available ${available} < 0`);
    if (reserved < 0 || balance < 0) this.violations.push(`${where}: negative balance ${balance} or reserved ${reserved}`);
    if (available !== balance - reserved) this.violations.push(`${where}: available ${available} ≠ balance ${balance} − reserved ${reserved}`);
  }

  private account(): string {
    return this.accountIds[Math.floor(Math.random() * this.accountIds.length)]!;
  }

  private pickHeld(): HeldInfo | undefined {
    if (this.held.size === 0) return undefined;
    const all = [...this.held.values()];
    return all[Math.floor(Math.random() * all.length)];
  }

  private nextOp(): (Op & { txnBody?: Json }) | undefined {
    const r = Math.random() * 100;
    const rand = (lo: number, hi: number) => lo + Math.floor(Math.random() * (hi - lo + 1));
    if (r < 14) return this.newOp("grant", "/v1/credits/grant", { accountId: this.account(), amount: rand(1, 120) });
    if (r < 20) {
      // A short-lived lot: it expires while the run goes on, through the sweeper or a read.
      return this.newOp("grant", "/v1/credits/grant", { accountId: this.account(), amount: rand(1, 80), expiresAt: new Date(Date.now() + rand(1000, 2500)).toISOString() });
    }
    if (r < 44) return this.newOp("deduct", "/v1/credits/deduct", { accountId: this.account(), amount: rand(1, 100) });
    if (r < 52) {
      const spend = this.spends.length === 0 ? undefined : this.spends[Math.floor(Math.random() * this.spends.length)]!;
      if (spend === undefined || spend.amount - spend.refunded < 1) return undefined;
      const amount = rand(1, spend.amount - spend.refunded);
      spend.refunded += amount;
      return this.newOp("refund", "/v1/credits/refund", { transactionId: spend.txnId, amount });
    }
    if (r < 68) {
      const ttlSeconds = Math.random() < 0.4 ? rand(1, 2) : 600;
      return this.newOp("reserve", "/v1/reservations", { accountId: this.account(), amount: rand(1, 80), ttlSeconds });
    }
    const h = this.pickHeld();
    if (h === undefined) return undefined;
    if (r < 80) {
      this.held.delete(h.id);
      const body: Json = h.uncertain || Math.random() < 0.3 ? {} : { amount: rand(Math.max(1, h.captured), h.amount) };
      return Object.assign(this.newOp("confirm", `/v1/reservations/${h.id}/confirm`, body), { reservationId: h.id });
    }
    if (r < 90) {
      this.held.delete(h.id);
      return Object.assign(this.newOp("cancel", `/v1/reservations/${h.id}/cancel`, {}), { reservationId: h.id });
    }
    if (h.amount - h.captured < 2) return undefined;
    const amount = rand(1, Math.floor((h.amount - h.captured) / 2));
    return Object.assign(this.newOp("capture", `/v1/reservations/${h.id}/capture`, { amount }), { reservationId: h.id, captureAmount: amount });
  }

  /** What an answer teaches the client about the holds and spends it can act on next. */
  private learn(op: Op & { captureAmount?: number }): void {
    // Half of the short holds are abandoned, as by a client that died: only expiry releases them.
    const abandoned = op.kind === "reserve" && (op.body["ttlSeconds"] as number) < 600 && op.seq % 2 === 0;
    if (op.kind === "reserve" && op.outcome === "ok" && op.reservationId !== undefined && !abandoned) {
      this.held.set(op.reservationId, { id: op.reservationId, amount: op.body["amount"] as number, captured: 0, uncertain: false });
    }
    if (op.kind === "capture" && op.reservationId !== undefined) {
      const h = this.held.get(op.reservationId);
      if (h !== undefined) {
        if (op.outcome === "ok") h.captured += op.captureAmount ?? 0;
        else if (op.outcome === "unknown") h.uncertain = true;
        else if (op.code === "RESERVATION_EXPIRED" || op.code === "RESERVATION_NOT_HELD") this.held.delete(h.id);
      }
    }
    if ((op.kind === "deduct" || op.kind === "capture" || op.kind === "confirm") && op.outcome === "ok" && op.txnId !== undefined && (op.txnAmount ?? 0) < 0) {
      this.spends.push({ txnId: op.txnId, amount: -(op.txnAmount ?? 0), refunded: 0 });
    }
  }

  private async worker(): Promise<void> {
    while (!this.stopped) {
      const op = this.nextOp();
      if (op === undefined) continue;
      await this.send(op);
      // Like any careful client: an operation with no answer is retried with its key (a server
      // that is down answers at once, so pause first). What is still unknown when the run stops
      // is settled by `resolveUnknown`.
      while (op.outcome === "unknown" && !this.stopped) {
        await sleep(100);
        await this.send(op);
      }
      this.learn(op);
    }
  }

  private async snapshotter(): Promise<void> {
    while (!this.stopped) {
      const id = this.account();
      try {
        const res = await request(this.target(), this.options.key, "GET", `/v1/accounts/${id}/balance`, undefined, this.options.timeoutMs ?? 15_000);
        if (res.status === 200) {
          this.snapshots++;
          this.checkBalance(res.body, `snapshot ${id}`);
        } else if (res.status !== 503) {
          this.violations.push(`snapshot ${id}: ${res.status} ${JSON.stringify(res.body)}`);
        } else {
          this.failureLatenciesMs.push(res.ms);
          await sleep(50);
        }
      } catch {
        await sleep(50);
      }
    }
  }

  /**
   * Retries every operation whose outcome is unknown with its own key and body until it has a
   * definite answer: whether it had happened or not, it must now have happened exactly once.
   */
  async resolveUnknown(deadlineMs = 60_000): Promise<number> {
    const unknown = this.ops.filter((o) => o.outcome === "unknown");
    const end = Date.now() + deadlineMs;
    const queue = [...unknown];
    const retry = async () => {
      for (let op = queue.shift(); op !== undefined; op = queue.shift()) {
        while (op.outcome === "unknown") {
          if (Date.now() > end) throw new Error(`operation ${op.key} still unknown after retries: ${op.status} ${op.code}`);
          await this.send(op);
          if (op.outcome === "unknown") await sleep(100);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, retry));
    return unknown.length;
  }

  /** Waits until `n` more operations are acknowledged (or `maxMs` passes): load, whatever the machine's speed. */
  async progress(n: number, maxMs = 30_000): Promise<void> {
    const target = this.acknowledged + n;
    for (const end = Date.now() + maxMs; this.acknowledged < target && Date.now() < end; ) await sleep(20);
  }

  get acknowledged(): number {
    return this.ops.filter((o) => o.outcome === "ok").length;
  }
}

// ─── the checker ──────────────────────────────────────────────────────────────────────────────

export interface Txn {
  id: string;
  accountId: string;
  type: string;
  amount: number;
  idempotencyKey: string | null;
  reservationId: string | null;
}

export async function listAllTransactions(baseUrl: string, key: string): Promise<Txn[]> {
  const out: Txn[] = [];
  let cursor: string | null = null;
  for (;;) {
    const res = await request(baseUrl, key, "GET", `/v1/transactions?limit=100${cursor === null ? "" : `&cursor=${cursor}`}`);
    if (res.status !== 200) throw new Error(`listing transactions: ${res.status} ${JSON.stringify(res.body)}`);
    out.push(...(res.body["items"] as Txn[]));
    cursor = res.body["nextCursor"] as string | null;
    if (cursor === null) return out;
  }
}

export interface CheckSummary {
  operations: number;
  acknowledged: number;
  rejected: number;
  retried: number;
  /** Retries that found their operation already done (committed, answer lost in the crash). */
  replayed: number;
  transactions: number;
  granted: number;
  spent: number;
  expired: number;
  clawedBack: number;
  refunded: number;
  total: number;
  reservations: { held: number; confirmed: number; canceled: number; expired: number };
  violations: string[];
}

/**
 * The final checks, through the API (the client's view), after `resolveUnknown`:
 *  - every acknowledged operation's transaction is in the ledger exactly once, with its key and amount;
 *  - no transaction exists for an operation that was rejected, and nothing else carries our keys;
 *  - each balance equals the sum of its transactions, and granted − spent − expired − clawed back
 *    + refunded (from the ledger) = Σ balances = what the client was told (Σ acknowledged amounts − expired);
 *  - every acknowledged reservation exists, in the state its acknowledged resolution says, and a
 *    hold past its expiry is never held.
 */
/** How long the final check waits for the ledger to hold still (expiries falling due after the load). */
const QUIESCE_MS = 20_000;

export async function checkBank(w: BankWorkload, baseUrl: string): Promise<CheckSummary> {
  const key = w.options.key;
  const v = [...w.violations];
  const ops = w.ops;
  if (ops.some((o) => o.outcome === "unknown")) v.push("unresolved operations left");

  // The ledger and the balances must be read at one moment; the sweeper may record an expiry
  // in between, so read until two listings agree.
  let txns: Txn[] = [];
  let balances = new Map<string, { balance: number; reserved: number; available: number }>();
  // Lots and holds granted with short lives in the last seconds of the load go on expiring after
  // it stops (the sweeper records each when it falls due), so keep reading, with a pause between
  // readings, until one holds still: on a loaded machine a reading takes long enough to span an
  // expiry for a few seconds after the load.
  let agreed = false;
  for (let attempt = 0, until = Date.now() + QUIESCE_MS; !agreed && Date.now() < until; attempt++) {
    if (attempt > 0) await sleep(100);
    txns = await listAllTransactions(baseUrl, key);
    balances = new Map();
    for (const id of w.accountIds) {
      const b = await request(baseUrl, key, "GET", `/v1/accounts/${id}/balance`);
      balances.set(id, b.body as { balance: number; reserved: number; available: number });
      w.checkBalance(b.body, `final ${id}`);
    }
    const again = await listAllTransactions(baseUrl, key);
    agreed = again.length === txns.length;
  }
  // Said apart from the sums below: a ledger that never held still for a reading is a different
  // finding from one whose reading does not add up.
  if (!agreed) v.push(`the ledger kept changing: no two listings agreed within ${QUIESCE_MS / 1000} s after the load stopped`);

  const byId = new Map<string, Txn[]>();
  const byKey = new Map<string, Txn[]>();
  for (const t of txns) {
    byId.set(t.id, [...(byId.get(t.id) ?? []), t]);
    if (t.idempotencyKey !== null) byKey.set(t.idempotencyKey, [...(byKey.get(t.idempotencyKey) ?? []), t]);
    else if (t.type !== "expiry") v.push(`transaction ${t.id} (${t.type}) has no idempotency key`);
  }
  const opsByKey = new Map(ops.map((o) => [o.key, o]));
  let clientSum = 0;
  for (const o of ops) {
    if (o.outcome !== "ok") continue;
    if (o.kind === "reserve" || o.kind === "cancel") {
      if (byKey.has(o.key)) v.push(`${o.kind} ${o.key} wrote a transaction`);
      continue;
    }
    const found = byId.get(o.txnId ?? "") ?? [];
    if (found.length !== 1) v.push(`acknowledged ${o.kind} ${o.key} (${o.txnId}) found ${found.length} times by id`);
    const withKey = byKey.get(o.key) ?? [];
    if (withKey.length !== 1) v.push(`acknowledged ${o.kind} ${o.key} found ${withKey.length} times by key`);
    if (found[0] !== undefined && found[0].amount !== o.txnAmount) v.push(`${o.kind} ${o.key}: ledger amount ${found[0].amount} ≠ acknowledged ${o.txnAmount}`);
    clientSum += o.txnAmount ?? 0;
  }
  for (const [k, list] of byKey) {
    const o = opsByKey.get(k);
    if (o === undefined) v.push(`transaction ${list[0]!.id} carries unknown key ${k}`);
    else if (o.outcome !== "ok") v.push(`transaction ${list[0]!.id} exists for ${o.outcome} ${o.kind} ${k} (${o.status} ${o.code})`);
  }

  const sumBy = (types: string[]) => txns.filter((t) => types.includes(t.type)).reduce((s, t) => s + t.amount, 0);
  const granted = sumBy(["grant", "credit"]);
  const spent = -sumBy(["deduct", "debit", "reservation_capture", "reservation_confirm"]);
  const expired = -sumBy(["expiry"]);
  const clawedBack = -sumBy(["clawback"]);
  const refunded = sumBy(["refund"]);
  let total = 0;
  for (const [id, b] of balances) {
    total += b.balance;
    const ledgerSum = txns.filter((t) => t.accountId === id).reduce((s, t) => s + t.amount, 0);
    if (ledgerSum !== b.balance) v.push(`account ${id}: balance ${b.balance} ≠ ledger sum ${ledgerSum}`);
  }
  if (granted - spent - expired - clawedBack + refunded !== total) {
    v.push(`granted ${granted} − spent ${spent} − expired ${expired} − clawed back ${clawedBack} + refunded ${refunded} ≠ Σ balances ${total}`);
  }
  if (clientSum - expired !== total) v.push(`Σ acknowledged amounts ${clientSum} − expired ${expired} ≠ Σ balances ${total}`);

  // Reservations: present, and in the state the acknowledged answers imply.
  const resolution = new Map<string, Op>();
  for (const o of ops) {
    if ((o.kind === "confirm" || o.kind === "cancel") && o.outcome === "ok" && o.reservationId !== undefined) {
      if (resolution.has(o.reservationId)) v.push(`reservation ${o.reservationId} acknowledged two resolutions`);
      resolution.set(o.reservationId, o);
    }
  }
  const counts = { held: 0, confirmed: 0, canceled: 0, expired: 0 };
  const reserves = ops.filter((o) => o.kind === "reserve" && o.outcome === "ok");
  const queue = [...reserves];
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      for (let o = queue.shift(); o !== undefined; o = queue.shift()) {
        const askedAt = Date.now();
        const res = await request(baseUrl, key, "GET", `/v1/reservations/${o.reservationId}`);
        const answeredAt = Date.now();
        if (res.status !== 200) {
          v.push(`acknowledged reservation ${o.reservationId} is gone: ${res.status}`);
          continue;
        }
        const status = res.body["status"] as keyof typeof counts;
        counts[status]++;
        const r = resolution.get(o.reservationId!);
        const expiresAt = o.reservationExpiresAtMs ?? 0;
        // A hold whose expiry falls while the GET is in flight may read either way.
        const allowed = r !== undefined ? [r.kind === "confirm" ? "confirmed" : "canceled"] : [...(expiresAt <= answeredAt ? ["expired"] : []), ...(expiresAt > askedAt ? ["held"] : [])];
        if (!allowed.includes(status)) v.push(`reservation ${o.reservationId}: ${status}, expected ${allowed.join(" or ")}`);
      }
    }),
  );

  return {
    operations: ops.length,
    acknowledged: ops.filter((o) => o.outcome === "ok").length,
    rejected: ops.filter((o) => o.outcome === "rejected").length,
    retried: ops.filter((o) => o.attempts > 1).length,
    replayed: ops.filter((o) => o.replayed === true).length,
    transactions: txns.length,
    granted,
    spent,
    expired,
    clawedBack,
    refunded,
    total,
    reservations: counts,
    violations: v,
  };
}

export function summaryLine(name: string, s: CheckSummary, extra: Record<string, string | number> = {}): string {
  const parts = [
    `${s.operations} operations`,
    `${s.acknowledged} acknowledged`,
    `${s.rejected} rejected`,
    `${s.retried} retried (${s.replayed} had already happened)`,
    `${s.transactions} transactions`,
    `granted ${s.granted}, spent ${s.spent}, expired ${s.expired}, refunded ${s.refunded}, Σ balances ${s.total}`,
    `reservations ${s.reservations.confirmed} confirmed/${s.reservations.canceled} canceled/${s.reservations.expired} expired/${s.reservations.held} held`,
    ...Object.entries(extra).map(([k, val]) => `${k} ${val}`),
    `violations ${s.violations.length}`,
  ];
  return `[reliability] ${name}: ${parts.join("; ")}`;
}

import { once } from "node:events";
import { readFileSync, writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import autocannon from "autocannon";
import { openConnections, type Connection } from "./http-client.ts";
import { Recorder, StatusCounter, type LatencySummary } from "./stats.ts";

/**
 * The load generator, always a separate process from the server it measures (bench/run.ts starts
 * it once per workload): `node --import tsx bench/load.ts SPEC.json`. It writes a LoadResult as
 * JSON to `spec.resultFile`.
 *
 * Modes:
 *  - closed: autocannon, `connections` keep-alive connections each sending its next request as
 *    soon as the previous one is answered (throughput at saturation);
 *  - open:   a fixed arrival rate regardless of how fast answers come (latency at a given load;
 *    each latency counts from the moment the request was due, so a stall is not hidden);
 *  - pairs:  `connections` virtual users, each reserving then confirming, over and over;
 *  - prime:  sends each replay request exactly once (what W10 then replays).
 */
export type RequestKind = "deduct" | "balance" | "replay";

export interface LoadSpec {
  mode: "closed" | "open" | "pairs" | "prime";
  host: string;
  port: number;
  secretKey: string;
  request: RequestKind;
  /** Accounts picked uniformly at random per request (one entry: a hot account). */
  accounts: string[];
  /** Makes idempotency keys unique across workloads and runs. */
  keyPrefix: string;
  /** How many distinct requests `replay` cycles through (and `prime` sends). */
  replayKeys: number;
  connections: number;
  durationS: number;
  warmupS: number;
  /** Requests per second, for `open`. */
  rate: number;
  resultFile: string;
}

export interface LoadResult {
  mode: LoadSpec["mode"];
  /** Successful (2xx) requests, or completed pairs in `pairs` mode, during the measured window. */
  ok: number;
  failed: number;
  statuses: Record<string, number>;
  socketErrors: number;
  durationS: number;
  /** ok ÷ durationS. */
  throughput: number;
  latency: LatencySummary;
  /**
   * Open loop only: how late each request left the sender after its due time. Already part of
   * every latency; reported so a reader can see the client's share. It has two parts: the
   * sender noticing the request was due (`senderLateness`: the load generator busy or not
   * scheduled), then waiting for one of the connections to be free (all of them carrying
   * unanswered requests: the server's backlog, not the client's).
   */
  dispatchLateness?: LatencySummary;
  /** Open loop only: how late the sender noticed each request was due (the load generator's own share). */
  senderLateness?: LatencySummary;
  /** The first non-2xx answer, to say why something failed. */
  firstFailure: string | null;
}

interface Generated {
  method: "GET" | "POST";
  path: string;
  body: string | undefined;
}

function generator(spec: LoadSpec, phase: string): () => Generated {
  const { accounts } = spec;
  const pick = (): string => accounts[accounts.length === 1 ? 0 : Math.floor(Math.random() * accounts.length)]!;
  let counter = 0;
  switch (spec.request) {
    case "deduct":
      return () => ({
        method: "POST",
        path: "/v1/credits/deduct",
        body: `{"accountId":"${pick()}","amount":1,"operation":"bench.deduct","idempotencyKey":"${spec.keyPrefix}-${phase}-${counter++}"}`,
      });
    case "balance":
      return () => ({ method: "GET", path: `/v1/accounts/${pick()}/balance`, body: undefined });
    case "replay":
      return () => replayRequest(spec, Math.floor(Math.random() * spec.replayKeys));
  }
}

/** The i-th request of the replay set: always byte-for-byte the same. */
function replayRequest(spec: LoadSpec, i: number): Generated {
  return {
    method: "POST",
    path: "/v1/credits/deduct",
    body: `{"accountId":"${spec.accounts[i % spec.accounts.length]!}","amount":1,"operation":"bench.replay","idempotencyKey":"${spec.keyPrefix}-${i}"}`,
  };
}

function authHeaders(spec: LoadSpec): Record<string, string> {
  return { authorization: `Bearer ${spec.secretKey}`, "content-type": "application/json" };
}

function rawHeaders(spec: LoadSpec, withBody: boolean): string {
  return `Authorization: Bearer ${spec.secretKey}\r\n${withBody ? "Content-Type: application/json\r\n" : ""}`;
}

interface Measured {
  ok: number;
  failed: number;
  statuses: StatusCounter;
  socketErrors: number;
  durationS: number;
  latency: Recorder;
  /** Open loop: how long after its due time each request left the sender (counted in `latency` too). */
  dispatchLateness: Recorder;
  /** Open loop: how long after its due time the sender noticed each request was due (part of `dispatchLateness`). */
  senderLateness: Recorder;
  firstFailure: string | null;
}

function emptyMeasured(): Measured {
  return { ok: 0, failed: 0, statuses: new StatusCounter(), socketErrors: 0, durationS: 0, latency: new Recorder(), dispatchLateness: new Recorder(), senderLateness: new Recorder(), firstFailure: null };
}

async function closedLoop(spec: LoadSpec, durationS: number, phase: string): Promise<Measured> {
  const m = emptyMeasured();
  const next = generator(spec, phase);
  const headers = authHeaders(spec);
  const started = performance.now();
  await new Promise<void>((resolve, reject) => {
    const instance = autocannon(
      {
        url: `http://${spec.host}:${spec.port}`,
        connections: spec.connections,
        duration: durationS,
        timeout: 30,
        skipAggregateResult: true,
        requests: [
          {
            method: "POST",
            headers,
            setupRequest: (request) => {
              const g = next();
              const out = { ...request, method: g.method, path: g.path };
              if (g.body === undefined) {
                delete out.body;
                out.headers = { authorization: headers.authorization! };
              } else {
                out.body = g.body;
              }
              return out;
            },
          },
        ],
      },
      (error, result) => {
        if (error !== null) {
          reject(error);
          return;
        }
        m.socketErrors = result.errors;
        resolve();
      },
    );
    instance.on("response", (_client: unknown, status: number, _bytes: number, responseTime: number) => {
      m.statuses.add(status);
      if (status >= 200 && status < 300) m.latency.record(responseTime);
    });
    // The body of a failure says why; autocannon only hands bodies to per-request hooks.
    instance.on("reqError", (error: Error) => {
      m.firstFailure ??= `socket error: ${error.message}`;
    });
  });
  m.durationS = (performance.now() - started) / 1000;
  m.ok = m.statuses.ok;
  m.failed = m.statuses.failed;
  if (m.failed > 0 && m.firstFailure === null) m.firstFailure = await probeFailure(spec, next);
  return m;
}

/** Sends one more request of the same kind to capture the body of a failure autocannon counted. */
async function probeFailure(spec: LoadSpec, next: () => Generated): Promise<string> {
  const [c] = await openConnections(spec.host, spec.port, 1);
  try {
    const g = next();
    const r = await c!.request(g.method, g.path, rawHeaders(spec, g.body !== undefined), g.body);
    return `${r.status} ${r.body.slice(0, 500)}`;
  } finally {
    c!.close();
  }
}

/*
 * The open loop's clock. libuv's timers have a resolution of one millisecond, so a setTimeout
 * loop sends W7's requests (due every 0.2 ms) in bursts up to a millisecond late, and since each
 * latency counts from when its request was due, that lateness was charged to the server: it was
 * ~0.6 ms of W7's median and ~2 ms of its p99 on a 2-core machine. A worker thread sleeps until
 * each due time with Atomics.wait (a futex: microsecond resolution, no CPU while waiting) and
 * wakes the sender; how late requests still leave is measured and reported as `dispatchLateness`
 * (it still counts in every latency), split into the sender's own lateness (busy reading answers,
 * the CPU taken: `senderLateness`) and the wait for a free connection (the server's backlog).
 */
const TICKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const { performance } = require("node:perf_hooks");
parentPort.once("message", ({ startAbsMs, intervalMs, total }) => {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const nowAbs = () => performance.timeOrigin + performance.now();
  let announced = 0;
  while (announced < total) {
    const due = Math.min(total, Math.floor((nowAbs() - startAbsMs) / intervalMs) + 1);
    if (due > announced) {
      parentPort.postMessage(due);
      announced = due;
    }
    // A few microseconds past the due time, so that the sender's own clock agrees it is due.
    const waitMs = startAbsMs + announced * intervalMs + 0.005 - nowAbs();
    if (waitMs > 0) Atomics.wait(cell, 0, 0, waitMs);
  }
});
parentPort.postMessage("ready");
`;

async function openLoop(spec: LoadSpec, durationS: number, phase: string): Promise<Measured> {
  const m = emptyMeasured();
  const next = generator(spec, phase);
  const connections = await openConnections(spec.host, spec.port, spec.connections);
  const idle: Connection[] = [...connections];
  const waiting: number[] = [];
  let waitingHead = 0;
  const interval = 1000 / spec.rate;
  const total = Math.floor(durationS * spec.rate);
  let scheduled = 0;
  let done = 0;
  // The schedule starts once the ticker runs: a worker takes tens of milliseconds to boot, and
  // requests due meanwhile would leave that late. The first is due 1 ms after the schedule is sent.
  const ticker = new Worker(TICKER_SOURCE, { eval: true });
  await once(ticker, "message");
  const start = performance.now() + 1;
  ticker.postMessage({ startAbsMs: performance.timeOrigin + start, intervalMs: interval, total });
  await new Promise<void>((resolve) => {
    const dispatch = (c: Connection, dueAt: number): void => {
      m.dispatchLateness.record(performance.now() - dueAt);
      const g = next();
      c.request(g.method, g.path, rawHeaders(spec, g.body !== undefined), g.body).then(
        (r) => {
          // From when the request was due, not when a connection was free: queueing counts.
          const latency = performance.now() - dueAt;
          m.statuses.add(r.status);
          if (r.status >= 200 && r.status < 300) m.latency.record(latency);
          else m.firstFailure ??= `${r.status} ${r.body.slice(0, 500)}`;
          finish(c);
        },
        (error: Error) => {
          m.socketErrors++;
          m.firstFailure ??= `socket error: ${error.message}`;
          finish(undefined);
        },
      );
    };
    const finish = (c: Connection | undefined): void => {
      done++;
      if (c !== undefined) {
        if (waitingHead < waiting.length) dispatch(c, waiting[waitingHead++]!);
        else idle.push(c);
      }
      if (done === total) resolve();
    };
    // `announced`: how many requests the ticker says are due. Only this thread's clock decides
    // (a request sent before it is due would flatter its latency); should the two clocks differ
    // by the microsecond that makes a tick early, the next event-loop turn looks again.
    const pump = (announced: number): void => {
      const now = performance.now();
      while (scheduled < total && start + scheduled * interval <= now) {
        const dueAt = start + scheduled++ * interval;
        m.senderLateness.record(now - dueAt);
        waiting.push(dueAt);
      }
      if (scheduled < announced) setImmediate(() => pump(announced));
      while (waitingHead < waiting.length && idle.length > 0) dispatch(idle.pop()!, waiting[waitingHead++]!);
      if (waitingHead === waiting.length && waitingHead > 4096) {
        waiting.length = 0;
        waitingHead = 0;
      }
    };
    ticker.on("message", pump);
    ticker.on("error", (error) => {
      m.firstFailure ??= `ticker failed: ${error.message}`;
      resolve();
    });
    if (total === 0) resolve();
  });
  await ticker.terminate();
  m.durationS = (performance.now() - start) / 1000;
  for (const c of connections) c.close();
  m.ok = m.statuses.ok;
  m.failed = m.statuses.failed + m.socketErrors;
  return m;
}

async function pairs(spec: LoadSpec, durationS: number, phase: string): Promise<Measured> {
  const m = emptyMeasured();
  const connections = await openConnections(spec.host, spec.port, spec.connections);
  const headers = rawHeaders(spec, true);
  const { accounts } = spec;
  let counter = 0;
  const start = performance.now();
  const deadline = start + durationS * 1000;
  const user = async (c: Connection): Promise<void> => {
    while (performance.now() < deadline) {
      const t0 = performance.now();
      const key = `${spec.keyPrefix}-${phase}-${counter++}`;
      const account = accounts[accounts.length === 1 ? 0 : Math.floor(Math.random() * accounts.length)]!;
      const reserve = await c.request(
        "POST",
        "/v1/reservations",
        headers,
        `{"accountId":"${account}","amount":1,"ttlSeconds":600,"operation":"bench.reserve","idempotencyKey":"${key}-r"}`,
      );
      m.statuses.add(reserve.status);
      if (reserve.status !== 201) {
        m.failed++;
        m.firstFailure ??= `reserve: ${reserve.status} ${reserve.body.slice(0, 500)}`;
        continue;
      }
      const id = (JSON.parse(reserve.body) as { id: string }).id;
      const confirm = await c.request("POST", `/v1/reservations/${id}/confirm`, headers, `{"idempotencyKey":"${key}-c"}`);
      m.statuses.add(confirm.status);
      if (confirm.status !== 200) {
        m.failed++;
        m.firstFailure ??= `confirm: ${confirm.status} ${confirm.body.slice(0, 500)}`;
        continue;
      }
      m.ok++;
      m.latency.record(performance.now() - t0);
    }
  };
  await Promise.all(
    connections.map((c) =>
      user(c).catch((error: Error) => {
        m.socketErrors++;
        m.firstFailure ??= `socket error: ${error.message}`;
      }),
    ),
  );
  m.durationS = (performance.now() - start) / 1000;
  for (const c of connections) c.close();
  return m;
}

async function prime(spec: LoadSpec): Promise<Measured> {
  const m = emptyMeasured();
  const connections = await openConnections(spec.host, spec.port, spec.connections);
  let nextIndex = 0;
  const start = performance.now();
  await Promise.all(
    connections.map(async (c) => {
      while (nextIndex < spec.replayKeys) {
        const g = replayRequest(spec, nextIndex++);
        const t0 = performance.now();
        const r = await c.request(g.method, g.path, rawHeaders(spec, true), g.body);
        m.statuses.add(r.status);
        if (r.status >= 200 && r.status < 300) m.latency.record(performance.now() - t0);
        else m.firstFailure ??= `${r.status} ${r.body.slice(0, 500)}`;
      }
    }),
  );
  m.durationS = (performance.now() - start) / 1000;
  for (const c of connections) c.close();
  m.ok = m.statuses.ok;
  m.failed = m.statuses.failed;
  return m;
}

async function measure(spec: LoadSpec, durationS: number, phase: string): Promise<Measured> {
  switch (spec.mode) {
    case "closed":
      return closedLoop(spec, durationS, phase);
    case "open":
      return openLoop(spec, durationS, phase);
    case "pairs":
      return pairs(spec, durationS, phase);
    case "prime":
      return prime(spec);
  }
}

async function main(): Promise<void> {
  const specPath = process.argv[2];
  if (specPath === undefined) throw new Error("usage: load.ts SPEC.json");
  const spec = JSON.parse(readFileSync(specPath, "utf8")) as LoadSpec;
  // The warm-up runs the very same workload (JIT, caches, connections, page cache) and is thrown away.
  if (spec.mode !== "prime" && spec.warmupS > 0) await measure(spec, spec.warmupS, "warm");
  const m = await measure(spec, spec.durationS, "run");
  const result: LoadResult = {
    mode: spec.mode,
    ok: m.ok,
    failed: m.failed,
    statuses: m.statuses.toJSON(),
    socketErrors: m.socketErrors,
    durationS: m.durationS,
    throughput: m.ok / m.durationS,
    latency: m.latency.summary(),
    ...(m.dispatchLateness.count > 0 ? { dispatchLateness: m.dispatchLateness.summary() } : {}),
    ...(m.senderLateness.count > 0 ? { senderLateness: m.senderLateness.summary() } : {}),
    firstFailure: m.firstFailure,
  };
  writeFileSync(spec.resultFile, JSON.stringify(result));
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`load: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  },
);

import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/*
 * The worker's code is plain CommonJS run with `eval`, so it needs no TypeScript loader (the
 * server runs under tsx, tests under vitest, and a worker inherits neither reliably). It opens
 * its own connection to the same file and checkpoints the WAL when asked.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { fsyncSync, openSync, closeSync } = require("node:fs");
const Database = require(workerData.driver);
const db = new Database(workerData.path);
const dbFd = openSync(workerData.path, "r");
db.pragma("cache_size = -2048");
db.pragma("busy_timeout = 0");
parentPort.on("message", (message) => {
  if (message === "close") {
    closeSync(dbFd);
    db.close();
    parentPort.close();
    return;
  }
  try {
    const [row] = db.pragma("wal_checkpoint(PASSIVE)");
    // SQLite syncs the database file only when a checkpoint finds nothing left to copy; one that
    // ran while the writer kept committing leaves its pages to the kernel. Syncing them here,
    // off the writer's path, keeps the short checkpoint that restarts the WAL short (and is
    // nearly free when SQLite has just synced).
    if (row.checkpointed > 0) fsyncSync(dbFd);
    parentPort.postMessage({ ok: true, busy: row.busy, walFrames: row.log, checkpointed: row.checkpointed });
  } catch (error) {
    parentPort.postMessage({ ok: false, message: String(error && error.message || error) });
  }
});
`;

export interface CheckpointResult {
  walFrames: number;
  checkpointed: number;
}

/**
 * Copies the WAL back into the database file on a worker thread. SQLite's own automatic
 * checkpoint runs inside a COMMIT on the connection's thread (here the event loop): it copies
 * every page and fsyncs the database file while no request can be served, a multi-millisecond
 * stall every thousand pages. The writer pauses its batches while a checkpoint runs (so it
 * completes and the next write can start the WAL over from the beginning), but the event loop
 * keeps answering everything else.
 */
export class Checkpointer {
  private worker: Worker | undefined;
  private pending: { resolve: (r: CheckpointResult) => void; reject: (e: Error) => void } | undefined;

  constructor(private readonly path: string) {}

  private start(): Worker {
    const driver = createRequire(import.meta.url).resolve("better-sqlite3");
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { driver, path: this.path },
      // It runs one pragma: a small heap keeps the server's memory where it was without it.
      resourceLimits: { maxOldGenerationSizeMb: 8, maxYoungGenerationSizeMb: 1, codeRangeSizeMb: 4 },
    });
    // An idle checkpointer must not keep the process alive; one that is working must (it is
    // ref'd while a checkpoint or its close is awaited, or a script would exit mid-await).
    worker.unref();
    worker.on("message", (m: { ok: boolean; walFrames?: number; checkpointed?: number; message?: string }) => {
      const p = this.pending;
      this.pending = undefined;
      if (p === undefined) return;
      worker.unref();
      if (m.ok) p.resolve({ walFrames: m.walFrames ?? 0, checkpointed: m.checkpointed ?? 0 });
      else p.reject(new Error(`checkpoint failed: ${m.message ?? "unknown"}`));
    });
    const fail = (error: Error) => {
      this.worker = undefined;
      const p = this.pending;
      this.pending = undefined;
      p?.reject(error);
    };
    worker.on("error", fail);
    worker.on("exit", (code) => fail(new Error(`checkpoint worker exited (${code})`)));
    return worker;
  }

  /** One PASSIVE checkpoint; one at a time (the caller awaits it before asking again). */
  run(): Promise<CheckpointResult> {
    if (this.pending !== undefined) return Promise.reject(new Error("a checkpoint is already running"));
    this.worker ??= this.start();
    const worker = this.worker;
    return new Promise<CheckpointResult>((resolve, reject) => {
      this.pending = { resolve, reject };
      worker.ref();
      worker.postMessage("checkpoint");
    });
  }

  /** Closes the worker's connection; the writer's own close then makes the final checkpoint. */
  async close(): Promise<void> {
    const worker = this.worker;
    if (worker === undefined) return;
    this.worker = undefined;
    worker.ref();
    await new Promise<void>((resolve) => {
      worker.once("exit", () => resolve());
      worker.postMessage("close");
      // Should the worker not exit by itself, do not let shutdown hang on it.
      setTimeout(() => void worker.terminate().then(() => resolve()), 2000).unref();
    });
  }
}

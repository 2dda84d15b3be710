import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "./config.ts";
import { startServer, type RunningServer } from "./server.ts";
import type { Clock } from "./domain/clock.ts";

export interface TestServer {
  url: string;
  adminToken: string;
  server: RunningServer;
  /** Creates an application and returns its secret key. */
  createApp(name?: string): Promise<{ appId: string; secretKey: string }>;
  close(): Promise<void>;
}

export interface TestServerOptions {
  /** `sqlite:PATH` or `postgres://…`; default a fresh SQLite file in a temp directory. */
  database?: string;
  clock?: Clock;
  jobs?: boolean;
  /** How long a live secret key is served from memory (default 1000 ms). */
  keyCacheTtlMs?: number;
  env?: Record<string, string>;
}

/**
 * A real server on 127.0.0.1 and a random port, for tests: `const t = await startTestServer()`.
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dir = options.database === undefined ? mkdtempSync(join(tmpdir(), "tally-test-")) : undefined;
  const adminToken = `tadm_test_${Math.random().toString(36).slice(2)}${Date.now()}`;
  const config = loadConfig(
    { TALLY_ADMIN_TOKEN: adminToken, LOG_LEVEL: process.env["TALLY_TEST_LOG_LEVEL"] ?? "error", TALLY_SWEEP_INTERVAL_MS: "200", TALLY_SQLITE_SYNCHRONOUS: "NORMAL", ...options.env },
    { port: 0, host: "127.0.0.1", database: options.database ?? `sqlite:${join(dir!, "tally.db")}` },
  );
  const server = await startServer(config, { ...(options.clock ? { clock: options.clock } : {}), jobs: options.jobs ?? true, ...(options.keyCacheTtlMs !== undefined ? { keyCacheTtlMs: options.keyCacheTtlMs } : {}) });
  return {
    url: server.url,
    adminToken,
    server,
    async createApp(name = "test") {
      const res = await fetch(`${server.url}/v1/apps`, {
        method: "POST",
        headers: { authorization: `Bearer ${adminToken}`, "content-type": "application/json" },
        body: JSON.stringify({ name }),
      });
      if (res.status !== 201) throw new Error(`creating an app failed: ${res.status} ${await res.text()}`);
      const body = (await res.json()) as { app: { id: string }; secretKey: string };
      return { appId: body.app.id, secretKey: body.secretKey };
    },
    async close() {
      await server.close();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}

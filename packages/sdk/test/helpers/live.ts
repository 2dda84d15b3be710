/**
 * Starts the real server in process (from packages/server/src/testing.ts) for end-to-end
 * tests. The SDK does not import server code: the module is loaded by path at run time.
 */
import { existsSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { Tally, TallyError } from "../../src/index.ts";
import { serverTestingModule } from "./paths.ts";

export interface LiveServer {
  url: string;
  adminToken: string;
  close(): Promise<void>;
}

interface TestingModule {
  startTestServer(options?: { database?: string; env?: Record<string, string> }): Promise<LiveServer>;
}

/** Whether the server package provides its test harness yet. */
export const serverAvailable = existsSync(serverTestingModule);

if (!serverAvailable) {
  console.warn(`\n${"!".repeat(78)}\n!! ${serverTestingModule} does not exist yet: LIVE SERVER TESTS ARE SKIPPED\n${"!".repeat(78)}\n`);
}

/**
 * Starts a server on a fresh SQLite file (or TALLY_TEST_DATABASE_URL when set). `env` is
 * passed on to servers whose harness accepts it (e.g. TALLY_CORS_ORIGINS).
 */
export async function startLive(env?: Record<string, string>): Promise<LiveServer> {
  const mod = (await import(pathToFileURL(serverTestingModule).href)) as TestingModule;
  const database = process.env["TALLY_TEST_DATABASE_URL"];
  return mod.startTestServer({ ...(database !== undefined ? { database } : {}), ...(env !== undefined ? { env } : {}) });
}

/** Creates an application with the admin token and returns its secret key. */
export async function createApp(server: LiveServer, name = "sdk-test"): Promise<{ appId: string; secretKey: string }> {
  const admin = new Tally({ apiKey: server.adminToken, baseUrl: server.url, maxRetries: 0 });
  const { app, secretKey } = await admin.apps.create({ name });
  return { appId: app.id, secretKey };
}

/** True when the server answered 404 `NOT_FOUND` because the route itself does not exist. */
export function isRouteMissing(error: unknown): boolean {
  return error instanceof TallyError && error.status === 404 && error.code === "NOT_FOUND";
}

/**
 * Runs `fn` for a commerce feature; when the server does not serve the route yet, warns
 * loudly and returns `undefined` instead of failing.
 */
export async function ifServed<T>(feature: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (error) {
    if (isRouteMissing(error)) {
      console.warn(`!!! SKIPPED: ${feature} is not served by the server yet (${(error as TallyError).message})`);
      return undefined;
    }
    throw error;
  }
}

/** The error a promise rejects with (fails if it resolves); a missing route is rethrown for {@link ifServed}. */
export async function failure(promise: Promise<unknown>): Promise<unknown> {
  const outcome = await promise.then(
    () => ({ ok: true as const }),
    (error: unknown) => ({ ok: false as const, error }),
  );
  if (outcome.ok) throw new Error("expected the call to fail");
  if (isRouteMissing(outcome.error)) throw outcome.error;
  return outcome.error;
}

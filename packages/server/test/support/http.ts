import { startTestServer, type TestServer, type TestServerOptions } from "../../src/testing.ts";
import { freshDatabase, type DatabaseKind } from "./databases.ts";

export interface Api {
  status: number;
  headers: Headers;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- test helper: bodies are asserted field by field
  text: string;
}

/** A tiny JSON client for tests: `await call(t, key, "POST", "/v1/credits/grant", {...})`. */
export async function call(
  baseUrl: string,
  key: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Api> {
  const h: Record<string, string> = { ...headers };
  if (key !== undefined) h["authorization"] = `Bearer ${key}`;
  if (body !== undefined && h["content-type"] === undefined) h["content-type"] = "application/json";
  const res = await fetch(baseUrl + path, { method, headers: h, body: body === undefined ? null : typeof body === "string" ? body : JSON.stringify(body) });
  const text = await res.text();
  let parsed: unknown = undefined;
  try {
    parsed = text.length > 0 ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, headers: res.headers, body: parsed, text };
}

export interface Harness {
  server: TestServer;
  url: string;
  key: string;
  appId: string;
  /** Calls the API as this harness's application. */
  api(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<Api>;
  close(): Promise<void>;
}

/** A real server on a fresh database of `kind`, with one application ready. */
export async function startHarness(kind: DatabaseKind, options: Omit<TestServerOptions, "database"> = {}): Promise<Harness> {
  const db = await freshDatabase(kind);
  const server = await startTestServer({ ...options, database: db.url });
  const { appId, secretKey } = await server.createApp();
  return {
    server,
    url: server.url,
    key: secretKey,
    appId,
    api: (method, path, body, headers) => call(server.url, secretKey, method, path, body, headers),
    async close() {
      await server.close();
      await db.cleanup();
    },
  };
}

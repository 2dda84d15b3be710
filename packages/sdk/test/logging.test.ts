/** debug/logger output never contains a secret. */
import { describe, expect, it } from "vitest";
import * as serverEntry from "../src/index.ts";
import { Tally } from "../src/index.ts";
import { TallyUserClient as UserClient } from "../src/client.ts";
import { errorBody, recordingSleep, scriptedFetch } from "./helpers/mock-fetch.ts";

const SECRET_KEY = "sk_live_TOPSECRET123456";
const HMAC_SECRET = "hmacSECRETvalue987";
const NEW_KEY = "sk_live_NEWKEYVALUE";
const JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1c2VyXzEifQ.SIGNATUREPART";

describe("logging", () => {
  it("logs requests and responses with secrets redacted", async () => {
    const lines: { message: string; data?: Record<string, unknown> }[] = [];
    const { fetch } = scriptedFetch([
      { status: 503, body: errorBody(503, "UNAVAILABLE") },
      { status: 201, body: { apiKey: { id: "key_1", name: "w" }, key: NEW_KEY } },
      { status: 201, body: { app: { id: "app_1" }, secretKey: NEW_KEY } },
      { status: 200, body: { id: "app_1", name: "x" } },
    ]);
    const { sleep } = recordingSleep();
    const tally = new Tally({ apiKey: SECRET_KEY, baseUrl: "http://tally.test", fetch, sleep, logger: (message, data) => lines.push({ message, ...(data ? { data } : {}) }) });
    await tally.apiKeys.create({ name: "w", type: "secret" });
    await tally.apps.create({ name: "x" });
    await tally.app.update({ endUserAuth: { algorithm: "HS256", secret: "jwt-signing-secret-value" } });
    const text = JSON.stringify(lines);
    expect(lines.length).toBeGreaterThanOrEqual(8);
    expect(text).toContain("POST /v1/api-keys");
    expect(text).toContain("503");
    expect(text).toContain("Bearer [redacted]");
    expect(text).not.toContain(SECRET_KEY);
    expect(text).not.toContain("TOPSECRET");
    expect(text).not.toContain(NEW_KEY);
    expect(text).not.toContain("jwt-signing-secret-value");
  });

  it("HMAC signatures and secrets are not logged", async () => {
    const lines: string[] = [];
    const { fetch, calls } = scriptedFetch([{ status: 200, body: { id: "app_1" } }]);
    const tally = new Tally({ apiKey: "key_abc", hmacSecret: HMAC_SECRET, baseUrl: "http://tally.test", fetch, logger: { debug: (m, d) => lines.push(m + JSON.stringify(d)) } });
    await tally.app.get();
    const sig = /sig=([0-9a-f]+)/.exec(calls[0]!.headers["authorization"]!)?.[1];
    expect(sig).toBeDefined();
    const text = lines.join("\n");
    expect(text).toContain("Tally-HMAC [redacted]");
    expect(text).not.toContain(sig!);
    expect(text).not.toContain(HMAC_SECRET);
  });

  it("debug: true writes to console without the token", async () => {
    const seen: unknown[] = [];
    const original = { debug: console.debug, info: console.info, warn: console.warn };
    console.debug = console.info = console.warn = (...args: unknown[]) => void seen.push(args);
    try {
      const { fetch } = scriptedFetch([{ status: 401, body: errorBody(401, "UNAUTHENTICATED") }]);
      const client = new UserClient({ baseUrl: "http://tally.test", token: JWT, fetch, debug: true });
      await client.me.get().catch(() => undefined);
    } finally {
      Object.assign(console, original);
    }
    const text = JSON.stringify(seen);
    expect(text).toContain("/v1/me");
    expect(text).not.toContain("SIGNATUREPART");
    expect(text).not.toContain(JWT);
  });

  it("logs nothing unless asked", async () => {
    const seen: unknown[] = [];
    const original = console.debug;
    console.debug = (...args: unknown[]) => void seen.push(args);
    try {
      const { fetch } = scriptedFetch([{ status: 200, body: {} }]);
      await new Tally({ apiKey: SECRET_KEY, baseUrl: "http://tally.test", fetch }).app.get();
    } finally {
      console.debug = original;
    }
    expect(seen).toHaveLength(0);
    expect("TallyUserClient" in serverEntry).toBe(false);
  });
});

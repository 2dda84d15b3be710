import { request as httpRequest } from "node:http";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../src/http/app.ts";
import { REDACTED_LOG_PATHS } from "../../src/http/log-redaction.ts";
import { SqliteDatabase } from "../../src/store/sqlite/database.ts";
import { migrate } from "../../src/store/migrate.ts";
import { createApiKey, createApp } from "../../src/domain/apps.ts";
import { systemClock } from "../../src/domain/clock.ts";
import { loadSecurityConfig } from "../../src/auth/config.ts";
import { SecretSealer } from "../../src/auth/sealing.ts";
import { signHmacRequest } from "../../src/auth/hmac.ts";
import { SECRET_KEY_LENGTH } from "../../src/auth/secrets.ts";
import { startTestServer, type TestServer } from "../../src/testing.ts";
import { HS_SECRET, SECURITY_ENV, TEST_SECRET_KEY, hsToken } from "./support.ts";

const ORIGIN = "https://app.example";

describe("hardening of the HTTP layer (in process)", () => {
  let dir: string;
  let db: SqliteDatabase;
  let app: FastifyInstance;
  let secretKey: string;
  let appId: string;
  let hmac: { keyId: string; secret: string };
  const logLines: string[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tally-hardening-"));
    db = new SqliteDatabase({ path: join(dir, "tally.db"), synchronous: "OFF" });
    await migrate(db);
    const created = await createApp(db, systemClock, "hardening");
    secretKey = created.secretKey;
    appId = created.app.id;
    const security = { ...loadSecurityConfig({ TALLY_SECRET_KEY: TEST_SECRET_KEY, TALLY_CORS_ORIGINS: `${ORIGIN}, https://other.example` }), rateLimitPerSecond: 0, rateLimitBurst: 0 };
    const key = await createApiKey(db, systemClock, appId, { name: "signer", type: "hmac" }, new SecretSealer(security));
    hmac = { keyId: key.apiKey.id, secret: key.key };
    ({ app } = await buildApp({
      db,
      clock: systemClock,
      adminToken: "hardening-admin-token-0123456789",
      logLevel: "trace",
      security,
      logStream: { write: (line: string) => void logLines.push(line) },
    }));
    const res = await app.inject({ method: "PATCH", url: "/v1/app", headers: { authorization: `Bearer ${secretKey}`, "content-type": "application/json" }, payload: JSON.stringify({ endUserAuth: { algorithm: "HS256", secret: HS_SECRET } }) });
    expect(res.statusCode).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("never writes a key, token, signature or secret to the log, even at trace level", async () => {
    const token = await hsToken(appId, "someone");
    const signed = signHmacRequest(hmac, "GET", "/v1/app", "");
    const requests = [
      { method: "GET" as const, url: "/v1/app", headers: { authorization: `Bearer ${secretKey}` } },
      { method: "GET" as const, url: "/v1/me", headers: { authorization: `Bearer ${token}` } },
      { method: "GET" as const, url: "/v1/app", headers: { authorization: signed } },
      { method: "GET" as const, url: "/v1/accounts", headers: { authorization: "Bearer hardening-admin-token-0123456789", "tally-app": appId } },
      { method: "POST" as const, url: "/v1/api-keys", headers: { authorization: `Bearer ${secretKey}`, "content-type": "application/json" }, payload: JSON.stringify({ name: "logged?", type: "hmac" }) },
      { method: "GET" as const, url: "/v1/app", headers: { authorization: `Bearer ${secretKey}x` } },
    ];
    const shown: string[] = [];
    for (const r of requests) {
      const res = await app.inject(r);
      if (res.statusCode === 201) shown.push(res.json().secret);
    }
    const log = logLines.join("");
    expect(log).toContain('"msg":"request"');
    for (const secret of [secretKey, token, signed, signed.split("sig=")[1]!, hmac.secret, "hardening-admin-token-0123456789", HS_SECRET, ...shown]) {
      expect(log).not.toContain(secret);
    }
  });

  it("redacts credential fields wherever a log object carries them", () => {
    const lines: string[] = [];
    const log = pino({ redact: { paths: REDACTED_LOG_PATHS, censor: "[redacted]" } }, { write: (l: string) => void lines.push(l) });
    log.info({
      authorization: "Bearer sk_a",
      req: { headers: { authorization: "Bearer sk_b", cookie: "session=c", "stripe-signature": "t=1,v1=d" } },
      body: { secret: "hk_e", key: "sk_f", token: "eyJ.g.h", nested: { password: "i" } },
      secretKey: "sk_j",
    });
    const text = lines.join("");
    for (const secret of ["sk_a", "sk_b", "session=c", "v1=d", "hk_e", "sk_f", "eyJ.g.h", "sk_j"]) expect(text).not.toContain(secret);
    expect(text).toContain("[redacted]");
  });

  it("sends security headers on HTML pages (CSP, no framing, no referrer, nosniff) and nosniff on JSON", async () => {
    for (const url of ["/docs", "/buy/complete"]) {
      const res = await app.inject({ method: "GET", url });
      if (res.statusCode === 404) continue; // the page may not exist in every build
      const page = res.statusCode >= 300 && res.statusCode < 400 ? await app.inject({ method: "GET", url: String(res.headers["location"]) }) : res;
      expect(String(page.headers["content-type"])).toMatch(/^text\/html/);
      expect(page.headers["content-security-policy"], url).toMatch(/frame-ancestors/);
      expect(page.headers["content-security-policy"], url).toMatch(/default-src 'self'/);
      expect(page.headers["x-frame-options"], url).toBe("DENY");
      expect(page.headers["referrer-policy"], url).toBe("no-referrer");
      expect(page.headers["x-content-type-options"], url).toBe("nosniff");
    }
    const json = await app.inject({ method: "GET", url: "/healthz" });
    expect(json.headers["x-content-type-options"]).toBe("nosniff");
  });

  it("allows every inline script of the HTML pages it serves by hash, and no other inline script", async () => {
    const auth = { authorization: `Bearer ${secretKey}`, "content-type": "application/json" };
    const addon = await app.inject({ method: "POST", url: "/v1/addons", headers: auth, payload: JSON.stringify({ name: "Pack", unit: "credits", creditQty: 10, priceAmount: 500, currency: "usd" }) });
    expect(addon.statusCode).toBe(201);
    await app.inject({ method: "PUT", url: "/v1/accounts/external/buyer", headers: auth, payload: "{}" });
    const links = await app.inject({ method: "GET", url: "/v1/purchase-links?externalId=buyer", headers: { authorization: auth.authorization } });
    const buyUrl = new URL(links.json().options[0].url).pathname;
    let checked = 0;
    for (const url of [buyUrl, "/docs/", "/dashboard", "/buy/complete"]) {
      const res = await app.inject({ method: "GET", url });
      if (res.statusCode !== 200 || !String(res.headers["content-type"]).startsWith("text/html")) continue;
      const csp = String(res.headers["content-security-policy"]);
      const scriptSrc = /script-src ([^;]*)/.exec(csp)?.[1] ?? /default-src ([^;]*)/.exec(csp)?.[1] ?? "";
      expect(scriptSrc, url).not.toContain("'unsafe-inline'");
      for (const m of res.body.matchAll(/<script(?![^>]*\bsrc=)[^>]*>([\s\S]*?)<\/script>/g)) {
        const hash = `'sha256-${createHash("sha256").update(m[1]!, "utf8").digest("base64")}'`;
        expect(scriptSrc, `${url}: an inline script the CSP would block`).toContain(hash);
        checked += 1;
      }
    }
    expect(checked, "the buy page's inline script was checked").toBeGreaterThan(0);
  });

  it("answers CORS preflights for /v1/me/… from the configured origins only", async () => {
    const preflight = (url: string, origin: string) =>
      app.inject({ method: "OPTIONS", url, headers: { origin, "access-control-request-method": "GET", "access-control-request-headers": "authorization" } });
    const allowed = await preflight("/v1/me/balance?unit=credits", ORIGIN);
    expect(allowed.statusCode).toBe(204);
    expect(allowed.headers["access-control-allow-origin"]).toBe(ORIGIN);
    expect(String(allowed.headers["access-control-allow-headers"])).toContain("authorization");
    expect(allowed.headers["access-control-allow-methods"]).toBe("GET");
    expect(allowed.headers["access-control-allow-credentials"]).toBeUndefined();
    expect((await preflight("/v1/me", "https://other.example")).headers["access-control-allow-origin"]).toBe("https://other.example");
    const stranger = await preflight("/v1/me", "https://evil.example");
    expect(stranger.headers["access-control-allow-origin"]).toBeUndefined();
    expect(stranger.headers["access-control-allow-methods"]).toBeUndefined();
    const writePreflight = await app.inject({ method: "OPTIONS", url: "/v1/me", headers: { origin: ORIGIN, "access-control-request-method": "POST" } });
    expect(writePreflight.headers["access-control-allow-methods"]).toBeUndefined();
  });

  it("adds CORS headers to /v1/me answers (401s included, so the page can refresh its token) and to nothing else", async () => {
    const unauthenticated = await app.inject({ method: "GET", url: "/v1/me", headers: { origin: ORIGIN } });
    expect(unauthenticated.statusCode).toBe(401);
    expect(unauthenticated.headers["access-control-allow-origin"]).toBe(ORIGIN);
    const ok = await app.inject({ method: "GET", url: "/v1/me/balances", headers: { origin: ORIGIN, authorization: `Bearer ${await hsToken(appId, "nobody")}` } });
    expect(ok.headers["access-control-allow-origin"]).toBe(ORIGIN);
    expect(String(ok.headers["access-control-expose-headers"])).toContain("x-request-id");
    const api = await app.inject({ method: "GET", url: "/v1/accounts", headers: { origin: ORIGIN, authorization: `Bearer ${secretKey}` } });
    expect(api.statusCode).toBe(200);
    expect(api.headers["access-control-allow-origin"]).toBeUndefined();
    const apiPreflight = await app.inject({ method: "OPTIONS", url: "/v1/accounts", headers: { origin: ORIGIN, "access-control-request-method": "POST" } });
    expect(apiPreflight.headers["access-control-allow-origin"]).toBeUndefined();
  });

  it("accepts a secret key only exactly as issued, before and after it is cached (no near miss passes the cache's fast path)", async () => {
    expect(secretKey.length).toBe(SECRET_KEY_LENGTH);
    const get = (authorization: string) => app.inject({ method: "GET", url: "/v1/app", headers: { authorization } });
    // The first answer caches the key; the second comes from the cache.
    expect((await get(`Bearer ${secretKey}`)).statusCode).toBe(200);
    expect((await get(`Bearer ${secretKey}`)).statusCode).toBe(200);
    const last = secretKey.at(-1) === "A" ? "B" : "A";
    for (const near of [
      `Bearer ${secretKey.slice(0, -1)}${last}`,
      `Bearer ${secretKey} `,
      `Bearer  ${secretKey}`,
      `bearer ${secretKey}`,
      `Bearer ${secretKey.slice(0, -1)}`,
      `Bearer ${secretKey}x`,
      `Bearer ${secretKey.replace("sk_", "sK_")}`,
      `Bearer\t${secretKey}`,
    ]) {
      const res = await get(near);
      expect(res.statusCode, JSON.stringify(near)).toBe(401);
      expect(res.json().error.code).toBe("UNAUTHENTICATED");
    }
  });

  it("refuses bodies over 1 MiB (413) and path parameters over the limit (400), in the envelope", async () => {
    const big = await app.inject({ method: "POST", url: "/v1/accounts", headers: { authorization: `Bearer ${secretKey}`, "content-type": "application/json" }, payload: JSON.stringify({ name: "x".repeat(1_100_000) }) });
    expect(big.statusCode).toBe(413);
    expect(big.json().error.code).toBe("PAYLOAD_TOO_LARGE");
    const long = await app.inject({ method: "GET", url: `/v1/accounts/${"a".repeat(400)}`, headers: { authorization: `Bearer ${secretKey}` } });
    expect(long.statusCode).toBe(400);
    expect(long.json().error).toMatchObject({ code: "VALIDATION_ERROR", status: 400 });
    expect(long.headers["x-request-id"]).toBe(long.json().error.requestId);
  });
});

describe("header size limit (real server)", () => {
  let server: TestServer;
  beforeAll(async () => {
    server = await startTestServer({ env: SECURITY_ENV, jobs: false });
  }, 60_000);
  afterAll(async () => server?.close());

  const get = (headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${server.url}/healthz`, { headers, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", reject);
      req.end();
    });

  it("refuses request headers over 16 KiB with 431 and serves the next request", async () => {
    expect(await get({ "x-filler": "a".repeat(20 * 1024) })).toBe(431);
    expect(await get({ "x-filler": "a".repeat(8 * 1024) })).toBe(200);
  });
});

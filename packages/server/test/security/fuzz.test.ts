import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { buildApp } from "../../src/http/app.ts";
import { SqliteDatabase } from "../../src/store/sqlite/database.ts";
import { migrate } from "../../src/store/migrate.ts";
import { createApp } from "../../src/domain/apps.ts";
import { systemClock } from "../../src/domain/clock.ts";
import { verifyLedger } from "../../src/domain/verify.ts";
import type { RouteRecord } from "../../src/http/router.ts";
import { loadSecurityConfig } from "../../src/auth/config.ts";
import { TEST_SECRET_KEY, hsToken, HS_SECRET } from "./support.ts";

const RUNS = Number(process.env["FUZZ_RUNS"] ?? 10_000);
// Over the 1 MiB body limit (413), built once.
const TOO_LARGE = JSON.stringify({ description: "x".repeat(1_100_000) });

/**
 * Malformed requests against every POST/PUT/PATCH route, in process (`app.inject`) on SQLite.
 * Every generated request carries at least one defect that must stop it (a field the schema
 * does not know, a value of an impossible type, broken JSON, a top-level that is not an object,
 * a prototype-pollution key, a wrong content type, an oversized body), plus random noise in the
 * fields it does know, in the path and in the headers. So every answer must be a 4xx in the
 * error envelope, and nothing may change.
 */
describe("fuzzing every write route with malformed requests (SQLite, in process)", () => {
  let dir: string;
  let db: SqliteDatabase;
  let app: FastifyInstance;
  let routes: RouteRecord[];
  let secretKey: string;
  let appId: string;
  const realIds: string[] = [];
  let balancesBefore: string;

  const inject = (method: string, url: string, payload?: string, headers: Record<string, string> = {}) =>
    app.inject({ method: method as "POST", url, headers: { authorization: `Bearer ${secretKey}`, ...headers }, ...(payload !== undefined ? { payload } : {}) });

  async function balances(): Promise<string> {
    return JSON.stringify(await db.read((q) => q.all("SELECT app_id, account_id, unit, balance, reserved FROM balances ORDER BY app_id, account_id, unit")));
  }

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "tally-fuzz-"));
    db = new SqliteDatabase({ path: join(dir, "tally.db"), synchronous: "OFF" });
    await migrate(db);
    const created = await createApp(db, systemClock, "fuzz");
    secretKey = created.secretKey;
    appId = created.app.id;
    const security = { ...loadSecurityConfig({ TALLY_SECRET_KEY: TEST_SECRET_KEY }), rateLimitPerSecond: 0, rateLimitBurst: 0 };
    ({ app, router: { routes } } = await buildApp({ db, clock: systemClock, adminToken: "fuzz-admin-token-0123456789", logLevel: "silent", security }));
    const ok = async (method: string, url: string, body: unknown) => {
      const res = await inject(method, url, JSON.stringify(body), { "content-type": "application/json" });
      if (res.statusCode >= 300) throw new Error(`${method} ${url}: ${res.statusCode} ${res.body}`);
      return res.json();
    };
    await ok("PATCH", "/v1/app", { endUserAuth: { algorithm: "HS256", secret: HS_SECRET } });
    const grant = await ok("POST", "/v1/credits/grant", { externalId: "fuzz-1", amount: 1000 });
    await ok("POST", "/v1/credits/grant", { externalId: "fuzz-2", amount: 5, expiresAt: new Date(Date.now() + 86_400_000).toISOString() });
    const deduct = await ok("POST", "/v1/credits/deduct", { externalId: "fuzz-1", amount: 10, idempotencyKey: "fz" });
    const rsv = await ok("POST", "/v1/reservations", { externalId: "fuzz-1", amount: 20 });
    realIds.push(grant.transaction.accountId, grant.transaction.id, deduct.transaction.id, rsv.id);
    balancesBefore = await balances();
  }, 60_000);

  afterAll(async () => {
    await app?.close();
    await db?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it(`answers ${RUNS} malformed requests with a 4xx in the error envelope, never a 5xx, and changes no balance`, async () => {
    const writes = routes.filter((r) => (r.method === "POST" || r.method === "PUT" || r.method === "PATCH") && r.url.startsWith("/v1/"));
    expect(writes.length).toBeGreaterThan(20);
    const endUserToken = await hsToken(appId, "fuzz-1");

    const junkString = fc.oneof(
      fc.string({ maxLength: 40 }),
      fc.string({ unit: "binary", maxLength: 40 }),
      fc.constantFrom("", " ", "../../etc/passwd", "%00", "\u0000", "null", "acct_" + "Z".repeat(26), "'; DROP TABLE accounts; --", "x".repeat(5000)),
    );
    const noise = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      junkString,
      fc.constantFrom(2 ** 53, -(2 ** 53), 1e308, -1, 0, 0.5, Number.MAX_SAFE_INTEGER, "1", "5", true, null, [], {}, ["a", "b"], "2026-13-45T99:99:99Z"),
    );
    // An object with a key no schema has and a value no scalar field accepts.
    const bomb = fc.constant({ "\u0000bomb": [1, { x: null }] });
    const pathParam = (route: RouteRecord) =>
      route.body === undefined ? junkString : fc.oneof(junkString, fc.constantFrom(...realIds));

    const request = fc.integer({ min: 0, max: writes.length - 1 }).chain((index) => {
      const route = writes[index]!;
      const known = Object.keys((route.body as { properties?: Record<string, unknown> } | undefined)?.properties ?? {});
      const knownFields = known.length === 0 ? fc.constant({}) : fc.dictionary(fc.constantFrom(...known), noise, { maxKeys: known.length });
      const unknownKey = fc.string({ minLength: 1, maxLength: 30 }).filter((k) => !known.includes(k) && k !== "__proto__" && k !== "constructor");
      const defect = fc.oneof(
        { weight: 4, arbitrary: fc.record({ kind: fc.constant("unknownField" as const), key: unknownKey, value: noise }) },
        { weight: 4, arbitrary: fc.record({ kind: fc.constant("wrongType" as const), key: known.length > 0 ? fc.constantFrom(...known) : unknownKey, value: bomb }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant("badJson" as const), text: fc.string({ maxLength: 60 }).map((s) => `{"a":${s}`) }) },
        { weight: 2, arbitrary: fc.record({ kind: fc.constant("topLevel" as const), value: fc.oneof(fc.array(noise, { maxLength: 3 }), fc.constantFrom(null, 0, "x", true, 1.5)) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant("proto" as const), text: fc.constantFrom('{"__proto__":{"admin":true}}', '{"constructor":{"prototype":{"admin":true}}}', '{"a":1,"__proto__":[]}') }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant("contentType" as const), type: fc.constantFrom("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", "application/jsonx"), text: fc.string({ maxLength: 60 }) }) },
        { weight: 1, arbitrary: fc.record({ kind: fc.constant("deep" as const), depth: fc.integer({ min: 500, max: 5_000 }) }) },
        { weight: 1, arbitrary: fc.constant({ kind: "tooLarge" as const }) },
      );
      const auth = fc.oneof(
        { weight: 12, arbitrary: fc.constant<"key" | "none" | "garbage" | "endUser">("key") },
        { weight: 1, arbitrary: fc.constantFrom<"key" | "none" | "garbage" | "endUser">("none", "garbage", "endUser") },
      );
      const idempotencyKey = fc.option(fc.oneof(fc.string({ minLength: 1, maxLength: 20 }).filter((s) => /^[\x21-\x7e]+$/.test(s)), fc.constant("k".repeat(300))), { nil: undefined });
      const params = fc.tuple(...(route.url.match(/\{\w+\}/g) ?? []).map(() => pathParam(route)));
      return fc.record({ route: fc.constant(`${route.method} ${route.url}`), index: fc.constant(index), fields: knownFields, defect, auth, idempotencyKey, params });
    });

    const failures: string[] = [];
    await fc.assert(
      fc.asyncProperty(request, async ({ index, fields, defect, auth, idempotencyKey, params }) => {
        const route = writes[index]!;
        let i = 0;
        const url = route.url.replace(/\{\w+\}/g, () => encodeURIComponent(String(params[i++] ?? "x")));
        const headers: Record<string, string> = { "content-type": "application/json" };
        if (auth === "none") headers["authorization"] = "";
        if (auth === "garbage") headers["authorization"] = "Bearer sk_garbage";
        if (auth === "endUser") headers["authorization"] = `Bearer ${endUserToken}`;
        if (idempotencyKey !== undefined) headers["idempotency-key"] = idempotencyKey;
        let payload: string;
        switch (defect.kind) {
          case "unknownField":
          case "wrongType":
            payload = JSON.stringify({ ...fields, [defect.key]: defect.value });
            break;
          case "badJson":
          case "proto":
            payload = defect.text;
            break;
          case "topLevel":
            payload = JSON.stringify(defect.value);
            break;
          case "contentType":
            headers["content-type"] = defect.type;
            payload = defect.text;
            break;
          case "deep":
            payload = JSON.stringify({ ...fields, metadata: "x" }).replace('"x"', "[".repeat(defect.depth) + "]".repeat(defect.depth));
            break;
          case "tooLarge":
            payload = TOO_LARGE;
            break;
        }
        const res: LightMyRequestResponse = await inject(route.method, url, payload, headers);
        const where = `${route.method} ${url} [${defect.kind}] → ${res.statusCode} ${res.body.slice(0, 200)}`;
        if (res.statusCode < 400 || res.statusCode >= 500) {
          failures.push(where);
          return false;
        }
        const body = JSON.parse(res.body) as { error?: { code?: unknown; message?: unknown; status?: unknown; requestId?: unknown } };
        const e = body.error;
        if (e === undefined || typeof e.code !== "string" || typeof e.message !== "string" || e.status !== res.statusCode || typeof e.requestId !== "string") {
          failures.push(`not the envelope: ${where}`);
          return false;
        }
        return true;
      }),
      { numRuns: RUNS, endOnFailure: true, reporter: (details) => {
        if (details.failed) throw new Error(`fuzzing found ${failures.length} bad answer(s) (seed ${details.seed}, path ${details.counterexamplePath}):\n${failures.slice(0, 5).join("\n")}`);
      } },
    );
    expect(failures).toEqual([]);

    // The server is still up and still right.
    expect((await app.inject({ method: "GET", url: "/healthz" })).statusCode).toBe(200);
    expect((await inject("GET", `/v1/accounts/${realIds[0]}/balance`)).statusCode).toBe(200);
    expect(await balances()).toBe(balancesBefore);
    const report = await verifyLedger(db);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
  }, 120_000);
});

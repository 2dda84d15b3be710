import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Fastify from "fastify";
import { DATABASES } from "../support/databases.ts";
import { call, startHarness, type Harness } from "../support/http.ts";
import { ManualClock } from "../../src/domain/clock.ts";
import { registerDashboard } from "../../src/http/dashboard.ts";
import { idFloor } from "../../src/store/repo/stats.ts";
import { newId } from "../../src/domain/ids.ts";

const DAY = 86_400_000;
const T0 = Date.parse("2026-03-10T12:00:00.000Z");

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`dashboard read endpoints (/v1/stats, GET /v1/apps) on ${kind}`, () => {
    let h: Harness;
    let other: { appId: string; secretKey: string };
    const clock = new ManualClock(T0 - 3 * DAY);

    beforeAll(async () => {
      h = await startHarness(kind, { clock, jobs: false });
      other = await h.server.createApp("other");
      const ok = async (method: string, path: string, body: unknown) => {
        const r = await h.api(method, path, body);
        if (r.status >= 300) throw new Error(`${path} ${r.status} ${r.text}`);
        return r.body;
      };
      // Day −3: grants; day −2: spending and a refund; day 0: a live hold and a small balance.
      await ok("POST", "/v1/credits/grant", { externalId: "big", amount: 1000 });
      await ok("POST", "/v1/credits/grant", { externalId: "small", amount: 100 });
      clock.set(T0 - 2 * DAY);
      const d = await ok("POST", "/v1/credits/deduct", { externalId: "big", amount: 300, idempotencyKey: "d1" });
      await ok("POST", "/v1/credits/deduct", { externalId: "small", amount: 70, idempotencyKey: "d2" });
      await ok("POST", "/v1/credits/refund", { transactionId: d.transaction.id, amount: 50 });
      clock.set(T0);
      await ok("POST", "/v1/reservations", { externalId: "big", amount: 200, ttlSeconds: 600 });
      // Another application's activity never shows up in this one's numbers.
      await call(h.url, other.secretKey, "POST", "/v1/credits/grant", { externalId: "big", amount: 99_999 });
    });
    afterAll(async () => h?.close());

    it("buckets granted, spent, refunded and reserved credits per UTC day and fills empty days with zeros", async () => {
      const r = await h.api("GET", `/v1/stats/ledger?bucket=day&from=${new Date(T0 - 4 * DAY).toISOString()}&to=${new Date(T0 + DAY).toISOString()}`);
      expect(r.status).toBe(200);
      expect(r.body.buckets).toHaveLength(6);
      const byDay = Object.fromEntries(r.body.buckets.map((b: { start: string }) => [b.start.slice(0, 10), b]));
      expect(byDay["2026-03-07"]).toMatchObject({ granted: 1100, spent: 0 });
      expect(byDay["2026-03-08"]).toMatchObject({ granted: 0, spent: 370, refunded: 50 });
      expect(byDay["2026-03-10"]).toMatchObject({ reserved: 200 });
      expect(byDay["2026-03-09"]).toMatchObject({ granted: 0, spent: 0, reserved: 0 });
      expect(r.body.totals).toMatchObject({ granted: 1100, spent: 370, refunded: 50, reserved: 200 });
      expect(r.body.heldNow).toEqual({ amount: 200, count: 1 });
    });

    it("answers hourly buckets and refuses a window of more than 1,000 buckets", async () => {
      const hourly = await h.api("GET", `/v1/stats/ledger?bucket=hour&from=${new Date(T0 - 2 * DAY).toISOString()}&to=${new Date(T0 - 2 * DAY + 3_600_000).toISOString()}`);
      expect(hourly.status).toBe(200);
      expect(hourly.body.buckets).toHaveLength(1);
      expect(hourly.body.buckets[0]).toMatchObject({ spent: 370, refunded: 50 });
      const tooWide = await h.api("GET", `/v1/stats/ledger?bucket=hour&from=${new Date(T0 - 60 * DAY).toISOString()}`);
      expect(tooWide.status).toBe(400);
      expect(tooWide.body.error.code).toBe("VALIDATION_ERROR");
    });

    it("ranks accounts by spend and lists accounts whose available credits are below the threshold", async () => {
      const top = await h.api("GET", "/v1/stats/top-accounts");
      expect(top.status).toBe(200);
      expect(top.body.items.map((i: { externalId: string; spent: number }) => [i.externalId, i.spent])).toEqual([
        ["big", 300],
        ["small", 70],
      ]);
      const low = await h.api("GET", "/v1/stats/low-balances?threshold=600");
      expect(low.status).toBe(200);
      // small: 30 available; big: 1000 − 300 + 50 = 750 balance, 200 held → 550 available.
      expect(low.body.items.map((i: { externalId: string; available: number }) => [i.externalId, i.available])).toEqual([
        ["small", 30],
        ["big", 550],
      ]);
      const none = await h.api("GET", "/v1/stats/low-balances?threshold=10");
      expect(none.body.items).toEqual([]);
    });

    it("lists applications for the admin token only", async () => {
      const asAdmin = await call(h.url, h.server.adminToken, "GET", "/v1/apps");
      expect(asAdmin.status).toBe(200);
      const ids = asAdmin.body.items.map((a: { id: string }) => a.id);
      expect(ids).toEqual(expect.arrayContaining([h.appId, other.appId]));
      const asKey = await h.api("GET", "/v1/apps");
      expect(asKey.status).toBe(403);
    });
  });
}

describe("idFloor, the primary-key bound of the stats queries", () => {
  it("is at or below every id minted at or after a time, and above every id minted before it", () => {
    for (const ms of [0, 1, T0 - 1, T0, T0 + 1, Date.parse("2099-12-31T23:59:59.999Z")]) {
      expect(newId("transaction", ms) >= idFloor("txn", ms)).toBe(true);
      expect(idFloor("txn", ms + 1) > idFloor("txn", ms)).toBe(true);
    }
    expect(idFloor("txn", Date.parse("2026-01-01T00:00:00Z"))).toBe("txn_01KDVDNA00");
  });
});

describe("the dashboard's static serving", () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "tally-dash-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("answers a page saying how to build the dashboard when it is not built", async () => {
    const app = Fastify();
    await registerDashboard(app, { distDir: join(dir, "missing") });
    const r = await app.inject({ method: "GET", url: "/dashboard/accounts" });
    expect(r.statusCode).toBe(503);
    expect(r.body).toContain("npm run build --workspace @tally/dashboard");
    await app.close();
  });

  it("serves built files, and index.html for the app's own paths, with a content security policy", async () => {
    const dist = join(dir, "dist");
    mkdirSync(join(dist, "assets"), { recursive: true });
    writeFileSync(join(dist, "index.html"), "<!doctype html><title>dash</title>");
    writeFileSync(join(dist, "assets", "app-abc123.js"), "console.log(1)");
    const app = Fastify();
    await registerDashboard(app, { distDir: dist });
    const deep = await app.inject({ method: "GET", url: "/dashboard/accounts/acct_123" });
    expect(deep.statusCode).toBe(200);
    expect(deep.body).toContain("<title>dash</title>");
    expect(deep.headers["content-security-policy"]).toContain("default-src 'self'");
    const asset = await app.inject({ method: "GET", url: "/dashboard/assets/app-abc123.js" });
    expect(asset.statusCode).toBe(200);
    expect(asset.headers["cache-control"]).toContain("immutable");
    const missing = await app.inject({ method: "GET", url: "/dashboard/assets/nope.js" });
    expect(missing.statusCode).toBe(404);
    const traversal = await app.inject({ method: "GET", url: "/dashboard/..%2f..%2fpackage.json" });
    expect(traversal.statusCode).not.toBe(200);
    await app.close();
  });
});

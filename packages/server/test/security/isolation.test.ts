import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES } from "../support/databases.ts";
import { call, startHarness, type Api, type Harness } from "../support/http.ts";
import { expectError, expectStatus } from "../http/expect.ts";
import { buildApp } from "../../src/http/app.ts";
import { SqliteDatabase } from "../../src/store/sqlite/database.ts";
import { systemClock } from "../../src/domain/clock.ts";
import { verifyLedger } from "../../src/domain/verify.ts";
import type { RouteRecord } from "../../src/http/router.ts";
import { SECURITY_ENV } from "./support.ts";

/** What application A owns, by the name of the path parameter (or body field) that names it. */
interface World {
  accountId: string;
  externalId: string;
  grantTxn: string;
  deductTxn: string;
  reservation: string;
  apiKey: string;
  productId: string;
  planId: string;
  addonId: string;
  subscriptionId: string;
  orderId: string;
  endpointId: string;
}

async function routeTable(): Promise<RouteRecord[]> {
  const db = new SqliteDatabase({ path: ":memory:" });
  const { app, router } = await buildApp({ db, clock: systemClock, adminToken: "isolation-admin-token-0123456789", logLevel: "silent" });
  await app.close();
  await db.close();
  return router.routes;
}

/** Bodies that would be valid if the ids they name belonged to the caller. */
function plausibleBody(route: RouteRecord, a: World): Record<string, unknown> | undefined {
  if (route.body === undefined) return undefined;
  const byPath: Record<string, Record<string, unknown>> = {
    "/v1/reservations/{id}/confirm": { amount: 1 },
    "/v1/reservations/{id}/capture": { amount: 1 },
    "/v1/reservations/{id}/extend": { ttlSeconds: 60 },
    "/v1/accounts/{accountId}": { name: "hijacked" },
    "/v1/accounts/{accountId}/addons/purchase": { addonId: a.addonId, idempotencyKey: "iso-purchase" },
    "/v1/accounts/{accountId}/auto-topup": { threshold: 1, addonId: a.addonId, enabled: true },
    "/v1/accounts/{accountId}/spend-limits/{unit}": { perDay: 1 },
    "/v1/orders/{orderId}/refund": { reason: "iso" },
    "/v1/subscriptions/{subscriptionId}/cancel": { atPeriodEnd: false },
  };
  return byPath[route.url] ?? {};
}

/** The same path with A's ids swapped for well-formed ids that exist nowhere. */
function unknownIdsIn(path: string): { path: string; restore: (message: string) => string } {
  const swaps: Array<[string, string]> = [];
  const out = path.replace(/\b([a-z]+)_([0-9A-HJKMNP-TV-Z]{26})\b/g, (id, prefix: string) => {
    const fake = `${prefix}_${"0".repeat(26)}`;
    swaps.push([id, fake]);
    return fake;
  });
  return { path: out, restore: (message) => swaps.reduce((m, [id, fake]) => m.split(id).join(fake), message) };
}

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`isolation between applications on ${kind}`, () => {
    let h: Harness;
    let routes: RouteRecord[];
    let b: { appId: string; secretKey: string };
    let bAccountId: string;
    const a = {} as World;
    const asB = (method: string, path: string, body?: unknown): Promise<Api> => call(h.url, b.secretKey, method, path, body);

    /** Everything A can see of its own resources; must be identical before and after B's attempts. */
    async function snapshotOfA(): Promise<string> {
      const paths = [
        `/v1/accounts/${a.accountId}`,
        `/v1/accounts/${a.accountId}/balances`,
        `/v1/accounts/${a.accountId}/grants`,
        `/v1/transactions?accountId=${a.accountId}&limit=100`,
        `/v1/reservations/${a.reservation}`,
        `/v1/subscriptions/${a.subscriptionId}`,
        `/v1/orders/${a.orderId}`,
        `/v1/webhook-endpoints`,
        `/v1/products/${a.productId}`,
        `/v1/plans/${a.planId}`,
        `/v1/addons/${a.addonId}`,
        `/v1/usage?accountId=${a.accountId}`,
        `/v1/prices`,
        `/v1/app`,
      ];
      const out: unknown[] = [];
      for (const p of paths) {
        const res = await h.api("GET", p);
        expectStatus(res, 200);
        out.push(res.body);
      }
      const keys = (await h.api("GET", "/v1/api-keys")).body.items.map((k: { id: string; revokedAt: string | null }) => [k.id, k.revokedAt]);
      return JSON.stringify([out, keys]);
    }

    beforeAll(async () => {
      h = await startHarness(kind, { env: SECURITY_ENV, jobs: false });
      routes = await routeTable();
      b = await h.server.createApp("intruder");
      bAccountId = (await asB("POST", "/v1/accounts", { externalId: "b-own" })).body.id;
      const ok = async (method: string, path: string, body?: unknown) => {
        const res = await h.api(method, path, body);
        if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${res.text}`);
        return res.body;
      };
      a.externalId = "iso-owner";
      const grant = await ok("POST", "/v1/credits/grant", { externalId: a.externalId, amount: 100 });
      a.accountId = grant.transaction.accountId;
      a.grantTxn = grant.transaction.id;
      a.deductTxn = (await ok("POST", "/v1/credits/deduct", { accountId: a.accountId, amount: 10, idempotencyKey: "iso-d1" })).transaction.id;
      a.reservation = (await ok("POST", "/v1/reservations", { accountId: a.accountId, amount: 5 })).id;
      await ok("POST", "/v1/usage", { accountId: a.accountId, modelId: "m", usageType: "text", inputTokens: 3 });
      await ok("PUT", "/v1/prices/op.iso", { unit: "credits", amount: 2 });
      a.apiKey = (await ok("POST", "/v1/api-keys", { name: "iso", scopes: ["read"] })).apiKey.id;
      a.productId = (await ok("POST", "/v1/products", { name: "Pro" })).id;
      a.planId = (await ok("POST", "/v1/plans", { productId: a.productId, name: "Pro monthly", priceAmount: 1000, currency: "usd", interval: "month", credits: [{ unit: "credits", amount: 50 }], features: ["export"] })).id;
      a.addonId = (await ok("POST", "/v1/addons", { name: "Top-up", unit: "credits", creditQty: 10, priceAmount: 500, currency: "usd" })).id;
      a.subscriptionId = (await ok("POST", "/v1/subscriptions", { accountId: a.accountId, planId: a.planId, startMode: "immediate" })).id;
      a.orderId = (await ok("POST", `/v1/accounts/${a.accountId}/addons/purchase`, { addonId: a.addonId, idempotencyKey: "iso-order" })).order.id;
      a.endpointId = (await ok("POST", "/v1/webhook-endpoints", { url: "http://127.0.0.1:9/hook", events: ["credits.granted"] })).id;
      await ok("PUT", `/v1/accounts/${a.accountId}/spend-limits/credits`, { perDay: 1000 });
    }, 60_000);
    afterAll(async () => h?.close());

    /** A's id for a path parameter of `url`. */
    function idFor(url: string, name: string): string {
      const byName: Record<string, string> = {
        accountId: a.accountId,
        externalId: a.externalId,
        productId: a.productId,
        planId: a.planId,
        addonId: a.addonId,
        subscriptionId: a.subscriptionId,
        orderId: a.orderId,
        endpointId: a.endpointId,
        unit: "credits",
        key: "op.iso",
      };
      if (name === "id") {
        if (url.startsWith("/v1/transactions/")) return a.deductTxn;
        if (url.startsWith("/v1/reservations/")) return a.reservation;
        if (url.startsWith("/v1/api-keys/")) return a.apiKey;
      }
      const id = byName[name];
      if (id === undefined) throw new Error(`isolation test: no id of application A for {${name}} in ${url}; add one to idFor()`);
      return id;
    }
    const pathWithIdsOfA = (route: RouteRecord) => route.url.replace(/\{(\w+)\}/g, (_m, name: string) => idFor(route.url, name));
    // Parameters that name something the caller creates in its own namespace, not an id of A's.
    const namesOwnThing = (route: RouteRecord) => /^\/v1\/(prices|units)\/\{/.test(route.url) || route.url === "/v1/accounts/external/{externalId}";

    it("answers 404 to every read of another application's resource, exactly as for an id that does not exist", async () => {
      const reads = routes.filter((r) => r.auth === "app" && r.method === "GET" && /\{/.test(r.url));
      expect(reads.length).toBeGreaterThan(10);
      for (const route of reads) {
        const path = pathWithIdsOfA(route);
        const res = await asB("GET", path);
        expect(res.status, `${route.url}: ${res.text}`).toBe(404);
        // Same answer as for an id that never existed (the error may echo the id it was given).
        const made = unknownIdsIn(path);
        const unknown = await asB("GET", made.path);
        expect(unknown.status).toBe(404);
        expect(res.body.error.code, route.url).toBe(unknown.body.error.code);
        expect(made.restore(res.body.error.message), route.url).toBe(unknown.body.error.message);
      }
    });

    it("never includes another application's resources in a list or a lookup by query", async () => {
      const secrets = Object.values(a);
      const lists = routes.filter((r) => r.auth === "app" && r.method === "GET" && !/\{/.test(r.url));
      for (const route of lists) {
        for (const query of ["", `?accountId=${a.accountId}`, `?externalId=${a.externalId}`]) {
          const res = await asB("GET", route.url + query);
          expect(res.status, `${route.url}${query}`).toBeLessThan(500);
          if (res.status >= 400) {
            // Naming A's account in the query is answered as for an account that does not exist.
            if (query !== "") expect(res.body.error.code, `${route.url}${query}`).toMatch(/NOT_FOUND|VALIDATION_ERROR/);
            continue;
          }
          for (const secret of secrets) expect(res.text, `${route.url}${query} leaks ${secret}`).not.toContain(secret);
        }
      }
    });

    it("never lets a write reach another application's resources: ids in the path or the body answer 404 and change nothing", async () => {
      const before = await snapshotOfA();
      const explicit: Array<[string, string, unknown]> = [
        ["POST", "/v1/credits/grant", { accountId: a.accountId, amount: 1000 }],
        ["POST", "/v1/credits/deduct", { accountId: a.accountId, amount: 1, idempotencyKey: "iso-b1" }],
        ["POST", "/v1/credits/refund", { transactionId: a.deductTxn }],
        ["POST", "/v1/transactions", { accountId: a.accountId, type: "debit", amount: 1 }],
        ["POST", "/v1/reservations", { accountId: a.accountId, amount: 1 }],
        ["POST", "/v1/usage", { accountId: a.accountId, modelId: "m", usageType: "text", inputTokens: 1 }],
        ["POST", "/v1/plans", { productId: a.productId, name: "x", priceAmount: 1, currency: "usd", interval: "month", credits: [], features: [] }],
        ["POST", "/v1/subscriptions", { accountId: a.accountId, planId: a.planId }],
        ["POST", "/v1/subscriptions", { accountId: bAccountId, planId: a.planId }],
        ["POST", "/v1/checkout/sessions", { accountId: bAccountId, planId: a.planId, successUrl: "https://x.example/s", cancelUrl: "https://x.example/c" }],
        ["POST", `/v1/accounts/${bAccountId}/addons/purchase`, { addonId: a.addonId, idempotencyKey: "iso-b2" }],
        ["POST", `/v1/orders/${a.orderId}/mark-paid`, undefined],
      ];
      for (const [method, path, body] of explicit) {
        const res = await asB(method, path, body);
        expect(res.status, `${method} ${path}: ${res.text}`).toBe(404);
      }
      // And every write route with an id of A's in its path, with an otherwise plausible body.
      const writes = routes.filter((r) => r.auth === "app" && r.method !== "GET" && /\{/.test(r.url) && !namesOwnThing(r));
      expect(writes.length).toBeGreaterThan(8);
      for (const route of writes) {
        const res = await asB(route.method, pathWithIdsOfA(route), plausibleBody(route, a));
        expect(res.status, `${route.method} ${route.url}: ${res.text}`).toBe(404);
      }
      expect(await snapshotOfA()).toBe(before);
      expect((await h.api("GET", `/v1/reservations/${a.reservation}`)).body.status).toBe("held");
      const report = await verifyLedger(h.server.server.db);
      expect(report.problems).toEqual([]);
    });

    it("keeps namespaces separate: the same externalId, price key or unit in B is B's own", async () => {
      const mine = await asB("PUT", `/v1/accounts/external/${a.externalId}`, { name: "B's user" });
      expect(mine.status).toBe(201);
      expect(mine.body.id).not.toBe(a.accountId);
      expectStatus(await asB("PUT", "/v1/prices/op.iso", { unit: "credits", amount: 99 }), 200);
      const aPrices = await h.api("GET", "/v1/prices");
      // A's own price for the key is untouched: still its 2, not B's 99 (compared as numbers: "99"
      // as a substring would also match the random part of an id).
      const aIso = (aPrices.body.items as Array<{ key: string; amount: number | null }>).filter((p) => p.key === "op.iso");
      expect(aIso.map((p) => p.amount)).toEqual([2]);
      expect((await h.api("GET", `/v1/accounts/by-external-id/${a.externalId}`)).body.name).toBeNull();
    });

    it("refuses the admin token's tally-app header for an application that does not exist", async () => {
      expectError(await call(h.url, h.server.adminToken, "GET", "/v1/accounts", undefined, { "tally-app": "app_00000000000000000000000000" }), 401, "UNAUTHENTICATED");
    });
  });
}

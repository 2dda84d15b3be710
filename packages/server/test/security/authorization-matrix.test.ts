import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES } from "../support/databases.ts";
import { call, startHarness, type Api, type Harness } from "../support/http.ts";
import { expectStatus } from "../http/expect.ts";
import { signHmacRequest } from "../../src/auth/hmac.ts";
import { buildApp } from "../../src/http/app.ts";
import { SqliteDatabase } from "../../src/store/sqlite/database.ts";
import { systemClock } from "../../src/domain/clock.ts";
import type { RouteRecord } from "../../src/http/router.ts";
import { SECURITY_ENV, createKey, enableEndUsers, hsToken } from "./support.ts";

/**
 * The decision every route must have, written down a second time on purpose: a new route fails
 * this test until its author adds it here, and a route whose auth or scope changes fails until
 * the change is confirmed here. `app:<scope>` is a key of the application with that scope (or the
 * admin token naming the application in `tally-app`).
 */
const EXPECTED: Record<string, "public" | "admin" | "me" | "app:read" | "app:write" | "app:admin"> = {
  "GET /healthz": "public",
  "GET /readyz": "public",
  "GET /metrics": "public",
  "POST /v1/apps": "admin",
  "GET /v1/apps": "admin",
  "GET /v1/app": "app:read",
  "PATCH /v1/app": "app:admin",
  "POST /v1/api-keys": "app:admin",
  "GET /v1/api-keys": "app:admin",
  "DELETE /v1/api-keys/{id}": "app:admin",
  "POST /v1/accounts": "app:write",
  "PUT /v1/accounts/external/{externalId}": "app:write",
  "GET /v1/accounts": "app:read",
  "GET /v1/accounts/{accountId}": "app:read",
  "GET /v1/accounts/by-external-id/{externalId}": "app:read",
  "PATCH /v1/accounts/{accountId}": "app:write",
  "GET /v1/accounts/{accountId}/balance": "app:read",
  "GET /v1/accounts/{accountId}/balances": "app:read",
  "GET /v1/accounts/{accountId}/grants": "app:read",
  "POST /v1/credits/grant": "app:write",
  "POST /v1/credits/deduct": "app:write",
  "POST /v1/credits/refund": "app:write",
  "POST /v1/transactions": "app:write",
  "GET /v1/transactions": "app:read",
  "GET /v1/transactions/{id}": "app:read",
  "POST /v1/reservations": "app:write",
  "POST /v1/reservations/{id}/confirm": "app:write",
  "POST /v1/reservations/{id}/cancel": "app:write",
  "POST /v1/reservations/{id}/capture": "app:write",
  "POST /v1/reservations/{id}/extend": "app:write",
  "GET /v1/reservations/{id}": "app:read",
  "GET /v1/reservations": "app:read",
  "POST /v1/usage": "app:write",
  "GET /v1/usage": "app:read",
  "GET /v1/usage/summary": "app:read",
  "PUT /v1/prices/{key}": "app:write",
  "GET /v1/prices": "app:read",
  "PUT /v1/units/{unit}": "app:write",
  "GET /v1/units": "app:read",
  "GET /v1/me": "me",
  "GET /v1/me/balances": "me",
  "GET /v1/me/balance": "me",
  "GET /v1/me/transactions": "me",
  "GET /v1/me/usage": "me",
  "GET /v1/me/entitlements": "me",
  "GET /v1/me/subscriptions": "me",
  "GET /v1/stats/ledger": "app:read",
  "GET /v1/stats/top-accounts": "app:read",
  "GET /v1/stats/low-balances": "app:read",
  "POST /v1/products": "app:write",
  "GET /v1/products": "app:read",
  "GET /v1/products/{productId}": "app:read",
  "POST /v1/plans": "app:write",
  "GET /v1/plans": "app:read",
  "GET /v1/plans/{planId}": "app:read",
  "POST /v1/addons": "app:write",
  "GET /v1/addons": "app:read",
  "GET /v1/addons/{addonId}": "app:read",
  "POST /v1/subscriptions": "app:write",
  "GET /v1/subscriptions": "app:read",
  "GET /v1/subscriptions/{subscriptionId}": "app:read",
  "POST /v1/subscriptions/{subscriptionId}/cancel": "app:write",
  "GET /v1/entitlements/check": "app:read",
  "GET /v1/accounts/{accountId}/entitlements": "app:read",
  "POST /v1/checkout/sessions": "app:write",
  "POST /v1/accounts/{accountId}/addons/purchase": "app:write",
  "GET /v1/accounts/{accountId}/addons/available": "app:read",
  "GET /v1/accounts/{accountId}/addons/active": "app:read",
  "GET /v1/purchase-links": "app:read",
  // Authenticated by the payment provider's signature over the raw body, not by a Tally key.
  "POST /v1/payments/stripe/webhook": "public",
  "GET /v1/orders/{orderId}": "app:read",
  "POST /v1/orders/{orderId}/mark-paid": "app:admin",
  "POST /v1/orders/{orderId}/refund": "app:admin",
  "GET /v1/accounts/{accountId}/invoices": "app:read",
  "POST /v1/webhook-endpoints": "app:admin",
  "GET /v1/webhook-endpoints": "app:read",
  "GET /v1/orders": "app:read",
  "GET /v1/webhook-endpoints/{endpointId}": "app:read",
  "DELETE /v1/webhook-endpoints/{endpointId}": "app:admin",
  "GET /v1/webhook-endpoints/{endpointId}/deliveries": "app:read",
  "PUT /v1/accounts/{accountId}/auto-topup": "app:write",
  "PUT /v1/accounts/{accountId}/spend-limits/{unit}": "app:write",
  "GET /v1/accounts/{accountId}/spend-limits/{unit}": "app:read",
  // Hosted pages for buyers: a signed, expiring token in the URL is the credential.
  "GET /buy/{token}": "public",
  "POST /buy/{token}": "public",
  "GET /buy/complete": "public",
  "GET /buy/canceled": "public",
  "GET /checkout/{orderId}": "public",
  "GET /invoices/{token}": "public",
};

const CREDENTIALS = [
  "none",
  "bad",
  "admin",
  "adminForApp",
  "sameAppKey",
  "otherAppKey",
  "readOnlyKey",
  "revokedKey",
  "hmacKey",
  "endUserOwner",
  "endUserOther",
] as const;
type Credential = (typeof CREDENTIALS)[number];

type Outcome = "allowed" | 401 | 403;

/** What a credential gets on a route with this decision: computed, never listed by hand. */
function expectedOutcome(decision: (typeof EXPECTED)[string], credential: Credential): Outcome {
  if (decision === "public") return "allowed";
  if (credential === "none" || credential === "bad" || credential === "revokedKey") return 401;
  const endUser = credential === "endUserOwner" || credential === "endUserOther";
  if (decision === "me") return endUser ? "allowed" : 403;
  if (decision === "admin") return credential === "admin" || credential === "adminForApp" ? "allowed" : 403;
  if (endUser || credential === "admin") return 403;
  if (credential === "readOnlyKey") return decision === "app:read" ? "allowed" : 403;
  return "allowed";
}

const keyOf = (r: RouteRecord) => `${r.method} ${r.url}`;

describe("the authorization table", () => {
  it("has an explicit decision for every route, equal to the route's declared auth and scope", async () => {
    const db = new SqliteDatabase({ path: ":memory:" });
    const { app, router } = await buildApp({ db, clock: systemClock, adminToken: "matrix-admin-token-0123456789", logLevel: "silent" });
    try {
      const missing: string[] = [];
      for (const route of router.routes) {
        const decision = EXPECTED[keyOf(route)];
        if (decision === undefined) {
          missing.push(`"${keyOf(route)}": "${route.auth === "app" ? `app:${route.scope}` : route.auth}",`);
          continue;
        }
        expect(route.auth === "app" ? `app:${route.scope}` : route.auth, keyOf(route)).toBe(decision);
      }
      expect(missing, `Routes without an entry in EXPECTED (test/security/authorization-matrix.test.ts); add them once you have checked who may call them:\n${missing.join("\n")}`).toEqual([]);
      const stale = Object.keys(EXPECTED).filter((k) => !router.routes.some((r) => keyOf(r) === k));
      if (stale.length > 0) console.warn(`authorization matrix: entries without a route (removed or renamed?): ${stale.join(", ")}`);
    } finally {
      await app.close();
      await db.close();
    }
  });
});

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`the authorization matrix: every route × every credential on ${kind}`, () => {
    let h: Harness;
    let routes: RouteRecord[];
    const secrets = new Map<Credential, string>();
    let hmac: { keyId: string; secret: string };
    const ids: Record<string, string> = {};

    beforeAll(async () => {
      h = await startHarness(kind, { env: SECURITY_ENV, jobs: false });
      routes = (h.server.server as unknown as { router?: RouteRecord[] }).router ?? (await routeTable());
      const other = await h.server.createApp("other");
      await enableEndUsers(h.url, h.key);
      const readOnly = await createKey(h, { scopes: ["read"] });
      const revoked = await createKey(h, {});
      expectStatus(await h.api("DELETE", `/v1/api-keys/${revoked.id}`), 200);
      const hk = await createKey(h, { type: "hmac" });
      hmac = { keyId: hk.keyId!, secret: hk.secret! };
      const grant = await h.api("POST", "/v1/credits/grant", { externalId: "owner", amount: 100 });
      expectStatus(await h.api("POST", "/v1/credits/grant", { externalId: "other-user", amount: 100 }), 201);
      ids["accountId"] = grant.body.transaction.accountId;
      ids["transaction"] = grant.body.transaction.id;
      ids["reservation"] = (await h.api("POST", "/v1/reservations", { externalId: "owner", amount: 1 })).body.id;
      secrets.set("bad", "sk_00000000000000000000000000_" + "A".repeat(43));
      secrets.set("admin", h.server.adminToken);
      secrets.set("adminForApp", h.server.adminToken);
      secrets.set("sameAppKey", h.key);
      secrets.set("otherAppKey", other.secretKey);
      secrets.set("readOnlyKey", readOnly.key!);
      secrets.set("revokedKey", revoked.key!);
      secrets.set("endUserOwner", await hsToken(h.appId, "owner"));
      secrets.set("endUserOther", await hsToken(h.appId, "other-user"));
    }, 60_000);
    afterAll(async () => h?.close());

    /** A path with every parameter filled with one of the calling application's real ids. */
    function pathOf(route: RouteRecord): string {
      return route.url.replace(/\{(\w+)\}/g, (_m, name: string) => {
        if (name === "accountId") return ids["accountId"]!;
        if (name === "externalId") return "owner";
        if (name === "key") return "op.matrix";
        if (name === "unit") return "credits";
        if (route.url.startsWith("/v1/transactions/")) return ids["transaction"]!;
        if (route.url.startsWith("/v1/reservations/")) return ids["reservation"]!;
        // A key id that does not exist: a DELETE that gets through answers 404 and revokes nothing.
        if (route.url.startsWith("/v1/api-keys/")) return "key_00000000000000000000000000";
        return `${name}_matrix`;
      });
    }

    async function send(route: RouteRecord, credential: Credential): Promise<Api> {
      const path = pathOf(route);
      // Writes carry an unknown field: a request that gets past authorization stops at validation
      // (400) and changes nothing, so the matrix can run every credential on every write.
      const body = route.body !== undefined ? JSON.stringify({ __matrix__: true }) : undefined;
      const headers: Record<string, string> = {};
      if (credential === "adminForApp") headers["tally-app"] = h.appId;
      if (credential === "hmacKey") {
        headers["authorization"] = signHmacRequest(hmac, route.method, path, body ?? "");
        return call(h.url, undefined, route.method, path, body, headers);
      }
      return call(h.url, secrets.get(credential), route.method, path, body, headers);
    }

    it("answers each credential on each route as the route's decision says (401 unauthenticated, 403 forbidden, else through)", async () => {
      const failures: string[] = [];
      const cases = routes.flatMap((route) => {
        const decision = EXPECTED[keyOf(route)];
        // Routes missing from EXPECTED are reported by the table test above.
        return decision === undefined ? [] : CREDENTIALS.map((credential) => ({ route, decision, credential }));
      });
      // Independent requests, a few at a time: the matrix is about answers, not order.
      for (let i = 0; i < cases.length; i += 12) {
        await Promise.all(
          cases.slice(i, i + 12).map(async ({ route, decision, credential }) => {
            const res = await send(route, credential);
            const want = expectedOutcome(decision, credential);
            const ok =
              want === "allowed"
                ? res.status !== 401 && res.status !== 403 && res.status < 500
                : res.status === want && res.body?.error?.code === (want === 401 ? "UNAUTHENTICATED" : "FORBIDDEN");
            if (!ok) failures.push(`${keyOf(route)} with ${credential}: expected ${want}, got ${res.status} ${res.text.slice(0, 160)}`);
          }),
        );
      }
      expect(failures).toEqual([]);
    });

    it("lets the end-user token of one user see only that user's account on every /v1/me route", async () => {
      const owner = ids["accountId"]!;
      for (const route of routes.filter((r) => r.auth === "me")) {
        const mine = await send(route, "endUserOwner");
        expect(mine.status, `${route.url}: ${mine.text}`).toBe(200);
        const theirs = await send(route, "endUserOther");
        expect(theirs.status).toBe(200);
        expect(theirs.text, route.url).not.toContain(owner);
      }
    });

    it("gets a secret key of another application nothing of this one: its ids answer 404 there", async () => {
      for (const route of routes.filter((r) => r.method === "GET" && r.auth === "app" && /\{(accountId|id)\}/.test(r.url))) {
        const res = await send(route, "otherAppKey");
        expect(res.status, `${route.url}: ${res.text}`).toBe(404);
      }
    });
  });
}

/** The route table as the server builds it (the running server does not expose its router). */
async function routeTable(): Promise<RouteRecord[]> {
  const db = new SqliteDatabase({ path: ":memory:" });
  const { app, router } = await buildApp({ db, clock: systemClock, adminToken: "matrix-admin-token-0123456789", logLevel: "silent" });
  await app.close();
  await db.close();
  return router.routes;
}

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES } from "../support/databases.ts";
import { call, startHarness, type Harness } from "../support/http.ts";
import { expectError, expectStatus } from "./expect.ts";

/** API.md "Authentication": applications, their keys and scopes, and that nothing crosses between applications. */

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`applications, API keys and authentication over HTTP on ${kind}`, () => {
    let h: Harness;
    const admin = (method: string, path: string, body?: unknown, headers?: Record<string, string>) =>
      call(h.url, h.server.adminToken, method, path, body, headers);

    beforeAll(async () => {
      h = await startHarness(kind);
    });
    afterAll(async () => h?.close());

    describe("POST /v1/apps", () => {
      it("creates an application with the admin token and returns its secret key once", async () => {
        const res = await admin("POST", "/v1/apps", { name: "Acme" });
        expectStatus(res, 201);
        expect(res.body.app).toMatchObject({ name: "Acme", endUserAuth: null });
        expect(res.body.app.id).toMatch(/^app_/);
        expect(res.body.secretKey).toMatch(/^sk_/);
        const me = await call(h.url, res.body.secretKey, "GET", "/v1/app");
        expectStatus(me, 200);
        expect(me.body.id).toBe(res.body.app.id);
      });

      it("refuses a secret key (403 FORBIDDEN): only the operator creates applications", async () => {
        expectError(await h.api("POST", "/v1/apps", { name: "Nope" }), 403, "FORBIDDEN");
      });

      it("refuses a request without credentials (401 UNAUTHENTICATED)", async () => {
        expectError(await call(h.url, undefined, "POST", "/v1/apps", { name: "Nope" }), 401, "UNAUTHENTICATED");
      });

      it("validates the body (400 VALIDATION_ERROR for a missing name)", async () => {
        const res = await admin("POST", "/v1/apps", {});
        expectError(res, 400, "VALIDATION_ERROR");
        expect(res.body.error.details.issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: "/name" })]));
      });
    });

    describe("GET/PATCH /v1/app", () => {
      it("returns the calling application", async () => {
        const res = await h.api("GET", "/v1/app");
        expectStatus(res, 200);
        expect(res.body).toMatchObject({ id: h.appId, name: "test", endUserAuth: null });
        expect(Date.parse(res.body.createdAt)).not.toBeNaN();
      });

      it("renames the application and configures end-user tokens without echoing the secret", async () => {
        const renamed = await h.api("PATCH", "/v1/app", { name: "Renamed" });
        expectStatus(renamed, 200);
        expect(renamed.body.name).toBe("Renamed");
        const configured = await h.api("PATCH", "/v1/app", { endUserAuth: { algorithm: "HS256", secret: "0123456789abcdef0123456789abcdef" } });
        expectStatus(configured, 200);
        expect(configured.body.endUserAuth).toMatchObject({ algorithm: "HS256", subjectClaim: "sub", hasSecret: true, hasPublicKey: false });
        expect(configured.text).not.toContain("0123456789abcdef0123456789abcdef");
        const read = await h.api("GET", "/v1/app");
        expect(read.body).toMatchObject({ name: "Renamed", endUserAuth: { algorithm: "HS256" } });
        const cleared = await h.api("PATCH", "/v1/app", { endUserAuth: null });
        expect(cleared.body.endUserAuth).toBeNull();
      });

      it("rejects inconsistent end-user auth settings (400 VALIDATION_ERROR)", async () => {
        expectError(await h.api("PATCH", "/v1/app", { endUserAuth: { algorithm: "HS256" } }), 400, "VALIDATION_ERROR");
        expectError(await h.api("PATCH", "/v1/app", { endUserAuth: { algorithm: "RS256", secret: "0123456789abcdef0123" } }), 400, "VALIDATION_ERROR");
        expectError(await h.api("PATCH", "/v1/app", { colour: "red" }), 400, "VALIDATION_ERROR");
      });
    });

    describe("POST/GET/DELETE /v1/api-keys", () => {
      it("creates a key shown once, lists keys without secrets, and revocation takes effect on the next request", async () => {
        const created = await h.api("POST", "/v1/api-keys", { name: "worker", type: "secret" });
        expectStatus(created, 201);
        const key: string = created.body.key;
        expect(key).toMatch(/^sk_/);
        expect(created.body.apiKey).toMatchObject({ name: "worker", type: "secret", revokedAt: null });
        expect(created.body.apiKey.id).toMatch(/^key_/);
        expect(created.body.apiKey.scopes).toEqual(expect.arrayContaining(["read", "write", "admin"]));
        expect(key.endsWith(created.body.apiKey.hint)).toBe(true);

        expectStatus(await call(h.url, key, "GET", "/v1/app"), 200);

        const list = await h.api("GET", "/v1/api-keys");
        expectStatus(list, 200);
        expect(list.body.items.map((k: { id: string }) => k.id)).toContain(created.body.apiKey.id);
        expect(list.text).not.toContain(key);

        const revoked = await h.api("DELETE", `/v1/api-keys/${created.body.apiKey.id}`);
        expectStatus(revoked, 200);
        expect(revoked.body.revokedAt).not.toBeNull();

        expectError(await call(h.url, key, "GET", "/v1/app"), 401, "UNAUTHENTICATED");
        expectError(await call(h.url, key, "POST", "/v1/accounts", {}), 401, "UNAUTHENTICATED");
      });

      it("answers 404 for revoking an unknown key", async () => {
        expectError(await h.api("DELETE", "/v1/api-keys/key_doesnotexist"), 404, "NOT_FOUND");
      });

      it("enforces scopes: a read-only key reads but may not write or manage keys (403 FORBIDDEN)", async () => {
        const created = await h.api("POST", "/v1/api-keys", { name: "reader", scopes: ["read"] });
        expectStatus(created, 201);
        const reader: string = created.body.key;
        expectStatus(await call(h.url, reader, "GET", "/v1/accounts"), 200);
        expectError(await call(h.url, reader, "POST", "/v1/accounts", {}), 403, "FORBIDDEN");
        expectError(await call(h.url, reader, "GET", "/v1/api-keys"), 403, "FORBIDDEN");
        expectError(await call(h.url, reader, "PATCH", "/v1/app", { name: "x" }), 403, "FORBIDDEN");
      });

      it("validates the key body (400 for a missing name, an unknown scope or an unknown field)", async () => {
        expectError(await h.api("POST", "/v1/api-keys", {}), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/api-keys", { name: "k", scopes: ["root"] }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/api-keys", { name: "k", expires: 1 }), 400, "VALIDATION_ERROR");
      });
    });

    describe("authentication", () => {
      it("answers 401 UNAUTHENTICATED without a key, with garbage, with a malformed header and with a forged sk_ key", async () => {
        expectError(await call(h.url, undefined, "GET", "/v1/accounts"), 401, "UNAUTHENTICATED");
        expectError(await call(h.url, "garbage", "GET", "/v1/accounts"), 401, "UNAUTHENTICATED");
        expectError(await call(h.url, undefined, "GET", "/v1/accounts", undefined, { authorization: "Basic Zm9vOmJhcg==" }), 401, "UNAUTHENTICATED");
        expectError(await call(h.url, `sk_${h.appId.slice(4)}_forged`, "GET", "/v1/accounts"), 401, "UNAUTHENTICATED");
        expectError(await call(h.url, `${h.key}x`, "GET", "/v1/accounts"), 401, "UNAUTHENTICATED");
      });

      it("refuses the admin token on an application route without `tally-app` (403 FORBIDDEN) and accepts it with one", async () => {
        expectError(await admin("GET", "/v1/accounts"), 403, "FORBIDDEN");
        const ok = await admin("GET", "/v1/app", undefined, { "tally-app": h.appId });
        expectStatus(ok, 200);
        expect(ok.body.id).toBe(h.appId);
      });

      it("keeps applications apart: another application's ids answer 404 exactly like unknown ids", async () => {
        const other = await admin("POST", "/v1/apps", { name: "Other" });
        const otherKey: string = other.body.secretKey;
        const g = await call(h.url, otherKey, "POST", "/v1/credits/grant", { externalId: "theirs", amount: 10 });
        expectStatus(g, 201);
        const theirAccount: string = g.body.transaction.accountId;
        const theirTxn: string = g.body.transaction.id;
        const r = await call(h.url, otherKey, "POST", "/v1/reservations", { accountId: theirAccount, amount: 1 });
        expectStatus(r, 201);

        const pairs: Array<[string, string, string]> = [
          [`/v1/accounts/${theirAccount}`, "/v1/accounts/acct_01NOPENOPENOPENOPENOPENOPE", "ACCOUNT_NOT_FOUND"],
          [`/v1/accounts/${theirAccount}/balance`, "/v1/accounts/acct_01NOPENOPENOPENOPENOPENOPE/balance", "ACCOUNT_NOT_FOUND"],
          ["/v1/accounts/by-external-id/theirs", "/v1/accounts/by-external-id/nobody", "ACCOUNT_NOT_FOUND"],
          [`/v1/transactions/${theirTxn}`, "/v1/transactions/txn_01NOPENOPENOPENOPENOPENOPE", "TRANSACTION_NOT_FOUND"],
          [`/v1/reservations/${r.body.id}`, "/v1/reservations/rsv_01NOPENOPENOPENOPENOPENOPE", "RESERVATION_NOT_FOUND"],
        ];
        for (const [theirs, unknown, code] of pairs) {
          const a = await h.api("GET", theirs);
          const b = await h.api("GET", unknown);
          expectError(a, 404, code);
          expectError(b, 404, code);
          expect(Object.keys(a.body.error.details ?? {})).toEqual(Object.keys(b.body.error.details ?? {}));
        }
        expectError(await h.api("POST", "/v1/credits/deduct", { accountId: theirAccount, amount: 1 }), 404, "ACCOUNT_NOT_FOUND");
        expectError(await h.api("POST", "/v1/credits/refund", { transactionId: theirTxn }), 404, "TRANSACTION_NOT_FOUND");
        expectError(await h.api("POST", `/v1/reservations/${r.body.id}/cancel`, {}), 404, "RESERVATION_NOT_FOUND");
        const mine = await h.api("GET", "/v1/accounts?externalId=theirs");
        expect(mine.body.items).toEqual([]);
        // And the other application's hold was untouched by our attempts.
        const still = await call(h.url, otherKey, "GET", `/v1/reservations/${r.body.id}`);
        expect(still.body.status).toBe("held");
      });

      it("puts x-request-id on successes, errors, unknown routes and public routes", async () => {
        const responses = [
          await h.api("GET", "/v1/app"),
          await call(h.url, undefined, "GET", "/v1/app"),
          await h.api("GET", "/v1/no-such-route"),
          await call(h.url, undefined, "GET", "/healthz"),
        ];
        for (const res of responses) expect(res.headers.get("x-request-id")).toMatch(/^req_/);
        expectError(responses[2]!, 404, "NOT_FOUND");
        const ids = new Set(responses.map((r) => r.headers.get("x-request-id")));
        expect(ids.size).toBe(responses.length);
      });
    });
  });
}

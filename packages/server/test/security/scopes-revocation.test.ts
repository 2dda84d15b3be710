import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES, freshDatabase } from "../support/databases.ts";
import { call } from "../support/http.ts";
import { expectError, expectStatus } from "../http/expect.ts";
import { startTestServer, type TestServer } from "../../src/testing.ts";
import { SECURITY_ENV } from "./support.ts";
import { KEY_CACHE_TTL_MS } from "../../src/auth/key-cache.ts";

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`key scopes and revocation on ${kind}`, () => {
    let first: TestServer;
    let second: TestServer;
    let cleanup: () => Promise<void>;
    let secretKey: string;
    let accountId: string;

    const newKey = async (scopes: string[]): Promise<{ id: string; key: string }> => {
      const res = await call(first.url, secretKey, "POST", "/v1/api-keys", { name: scopes.join("+"), scopes });
      expectStatus(res, 201);
      expect(res.body.apiKey.scopes).toEqual(scopes);
      return { id: res.body.apiKey.id, key: res.body.key };
    };

    beforeAll(async () => {
      const db = await freshDatabase(kind);
      first = await startTestServer({ database: db.url, env: SECURITY_ENV, jobs: false });
      second = kind === "postgres" ? await startTestServer({ database: db.url, env: SECURITY_ENV, jobs: false }) : first;
      cleanup = async () => {
        if (second !== first) await second.close();
        await first.close();
        await db.cleanup();
      };
      secretKey = (await first.createApp("scopes")).secretKey;
      const grant = await call(first.url, secretKey, "POST", "/v1/credits/grant", { externalId: "scoped", amount: 50 });
      accountId = grant.body.transaction.accountId;
    }, 60_000);
    afterAll(async () => cleanup?.());

    it("lets a read-only key read and nothing else (403 FORBIDDEN on every kind of write)", async () => {
      const { key } = await newKey(["read"]);
      expectStatus(await call(first.url, key, "GET", `/v1/accounts/${accountId}/balance`), 200);
      expectStatus(await call(first.url, key, "GET", "/v1/transactions"), 200);
      expectStatus(await call(first.url, key, "GET", "/v1/app"), 200);
      const writes: Array<[string, string, unknown]> = [
        ["POST", "/v1/credits/grant", { accountId, amount: 1 }],
        ["POST", "/v1/credits/deduct", { accountId, amount: 1, idempotencyKey: "ro" }],
        ["POST", "/v1/accounts", { externalId: "ro-new" }],
        ["PATCH", `/v1/accounts/${accountId}`, { name: "x" }],
        ["POST", "/v1/reservations", { accountId, amount: 1 }],
        ["PUT", "/v1/prices/op", { unit: "credits", amount: 1 }],
        ["POST", "/v1/api-keys", { name: "escalate", scopes: ["admin"] }],
        ["PATCH", "/v1/app", { name: "renamed" }],
      ];
      for (const [method, path, body] of writes) expectError(await call(first.url, key, method, path, body), 403, "FORBIDDEN");
      expect((await call(first.url, secretKey, "GET", `/v1/accounts/${accountId}/balance`)).body.balance).toBe(50);
    });

    it("keeps key management and application settings to keys with the admin scope", async () => {
      const { key } = await newKey(["read", "write"]);
      expectStatus(await call(first.url, key, "POST", "/v1/credits/grant", { accountId, amount: 1 }), 201);
      expectError(await call(first.url, key, "GET", "/v1/api-keys"), 403, "FORBIDDEN");
      expectError(await call(first.url, key, "POST", "/v1/api-keys", { name: "more" }), 403, "FORBIDDEN");
      expectError(await call(first.url, key, "PATCH", "/v1/app", { name: "mine now" }), 403, "FORBIDDEN");
      const admin = await newKey(["admin"]);
      expectStatus(await call(first.url, admin.key, "GET", "/v1/api-keys"), 200);
    });

    it("grants scopes only as listed: a write-only key can write but not read", async () => {
      const { key } = await newKey(["write"]);
      expectStatus(await call(first.url, key, "POST", "/v1/credits/grant", { accountId, amount: 1 }), 201);
      expectError(await call(first.url, key, "GET", `/v1/accounts/${accountId}`), 403, "FORBIDDEN");
    });

    it("revokes a key on the next request of the revoking process, on every other process within the key cache's second, and says 401 like for an unknown key", async () => {
      const { id, key } = await newKey(["read", "write", "admin"]);
      // Both processes now hold the key in their caches.
      expectStatus(await call(first.url, key, "GET", "/v1/app"), 200);
      expectStatus(await call(second.url, key, "GET", "/v1/app"), 200);
      const revoked = await call(first.url, secretKey, "DELETE", `/v1/api-keys/${id}`);
      const revokedAtMs = Date.now();
      expectStatus(revoked, 200);
      expect(revoked.body.revokedAt).not.toBeNull();
      // The revoking process forgets its cached keys before it answers: refused at once.
      expectError(await call(first.url, key, "GET", "/v1/app"), 401, "UNAUTHENTICATED");
      // Another process learns of it from PostgreSQL's notification (normally within a
      // millisecond or two) and at the latest when its cached copy expires (KEY_CACHE_TTL_MS).
      let refusedAfterMs = -1;
      while (refusedAfterMs < 0 && Date.now() - revokedAtMs < KEY_CACHE_TTL_MS + 500) {
        if ((await call(second.url, key, "GET", "/v1/app")).status === 401) refusedAfterMs = Date.now() - revokedAtMs;
        else await new Promise((r) => setTimeout(r, 2));
      }
      expect(refusedAfterMs).toBeGreaterThanOrEqual(0);
      expect(refusedAfterMs).toBeLessThanOrEqual(KEY_CACHE_TTL_MS);
      for (const server of [second, first]) {
        const res = await call(server.url, key, "GET", "/v1/app");
        expectError(res, 401, "UNAUTHENTICATED");
        const unknown = await call(server.url, key.slice(0, -4) + "AAAA", "GET", "/v1/app");
        expect(res.body.error.message).toBe(unknown.body.error.message);
      }
      expectError(await call(second.url, key, "POST", "/v1/credits/grant", { accountId, amount: 1 }), 401, "UNAUTHENTICATED");
    });

    it("lets a key revoke itself, and then nothing more", async () => {
      const { id, key } = await newKey(["read", "write", "admin"]);
      expectStatus(await call(first.url, key, "DELETE", `/v1/api-keys/${id}`), 200);
      expectError(await call(first.url, key, "GET", "/v1/api-keys"), 401, "UNAUTHENTICATED");
    });

    it("records when a key was last used (for rotation), without a write per request", async () => {
      const { id, key } = await newKey(["read"]);
      expectStatus(await call(first.url, key, "GET", "/v1/app"), 200);
      await new Promise((r) => setTimeout(r, 100));
      const listed = (await call(first.url, secretKey, "GET", "/v1/api-keys")).body.items.find((k: { id: string }) => k.id === id);
      expect(Date.parse(listed.lastUsedAt)).toBeGreaterThan(Date.now() - 60_000);
    });
  });
}

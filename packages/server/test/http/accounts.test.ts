import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES } from "../support/databases.ts";
import { call, startHarness, type Harness } from "../support/http.ts";
import { expectError, expectStatus, uid } from "./expect.ts";

/** API.md "Accounts": create, upsert, read, list, patch, balances and lots, on every database. */

const UNKNOWN_ACCOUNT = "acct_01JZZZZZZZZZZZZZZZZZZZZZZZ";

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`accounts and balances over HTTP on ${kind}`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness(kind);
    });
    afterAll(async () => h?.close());

    describe("POST /v1/accounts", () => {
      it("creates an account (201) with every field echoed and a prefixed id", async () => {
        const externalId = uid("user");
        const res = await h.api("POST", "/v1/accounts", { externalId, name: "Alice", email: "alice@example.com", metadata: { plan: "pro" } });
        expectStatus(res, 201);
        expect(res.body).toMatchObject({ externalId, name: "Alice", email: "alice@example.com", metadata: { plan: "pro" } });
        expect(res.body.id).toMatch(/^acct_/);
        expect(new Date(res.body.createdAt).toISOString()).toBe(res.body.createdAt);
      });

      it("creates an account without an external id (every field optional)", async () => {
        const res = await h.api("POST", "/v1/accounts", {});
        expectStatus(res, 201);
        expect(res.body).toMatchObject({ externalId: null, name: null, email: null, metadata: {} });
      });

      it("answers 409 ACCOUNT_EXISTS for a taken external id", async () => {
        const externalId = uid("user");
        expectStatus(await h.api("POST", "/v1/accounts", { externalId }), 201);
        expectError(await h.api("POST", "/v1/accounts", { externalId, name: "Again" }), 409, "ACCOUNT_EXISTS");
      });

      it("rejects an invalid email and an over-long name (400 VALIDATION_ERROR)", async () => {
        expectError(await h.api("POST", "/v1/accounts", { email: "not-an-email" }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/accounts", { name: "n".repeat(256) }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/accounts", { externalId: "x".repeat(256) }), 400, "VALIDATION_ERROR");
      });
    });

    describe("PUT /v1/accounts/external/{externalId}", () => {
      it("creates on first call (201), updates on the next (200) and keeps the same id", async () => {
        const externalId = uid("ext");
        const first = await h.api("PUT", `/v1/accounts/external/${externalId}`, { name: "First", metadata: { a: "1" } });
        expectStatus(first, 201);
        expect(first.body).toMatchObject({ externalId, name: "First", metadata: { a: "1" } });
        const second = await h.api("PUT", `/v1/accounts/external/${externalId}`, { email: "b@example.com", metadata: { b: "2" } });
        expectStatus(second, 200);
        expect(second.body).toMatchObject({ id: first.body.id, name: "First", email: "b@example.com", metadata: { a: "1", b: "2" } });
        const same = await h.api("PUT", `/v1/accounts/external/${externalId}`, { email: "b@example.com" });
        expectStatus(same, 200);
        expect(same.body.id).toBe(first.body.id);
      });

      it("accepts an empty body and rejects unknown fields", async () => {
        expectStatus(await h.api("PUT", `/v1/accounts/external/${uid("ext")}`, {}), 201);
        expectError(await h.api("PUT", `/v1/accounts/external/${uid("ext")}`, { externalId: "x" }), 400, "VALIDATION_ERROR");
      });
    });

    describe("GET /v1/accounts/{accountId} and by external id", () => {
      it("reads an account by id and by external id", async () => {
        const externalId = uid("get");
        const created = await h.api("POST", "/v1/accounts", { externalId, name: "Getme" });
        const byId = await h.api("GET", `/v1/accounts/${created.body.id}`);
        expectStatus(byId, 200);
        expect(byId.body).toEqual(created.body);
        const byExt = await h.api("GET", `/v1/accounts/by-external-id/${encodeURIComponent(externalId)}`);
        expectStatus(byExt, 200);
        expect(byExt.body).toEqual(created.body);
      });

      it("answers 404 ACCOUNT_NOT_FOUND for unknown ids and external ids", async () => {
        expectError(await h.api("GET", `/v1/accounts/${UNKNOWN_ACCOUNT}`), 404, "ACCOUNT_NOT_FOUND");
        expectError(await h.api("GET", `/v1/accounts/by-external-id/${uid("nobody")}`), 404, "ACCOUNT_NOT_FOUND");
        expectError(await h.api("PATCH", `/v1/accounts/${UNKNOWN_ACCOUNT}`, { name: "x" }), 404, "ACCOUNT_NOT_FOUND");
        expectError(await h.api("GET", `/v1/accounts/${UNKNOWN_ACCOUNT}/balance`), 404, "ACCOUNT_NOT_FOUND");
        expectError(await h.api("GET", `/v1/accounts/${UNKNOWN_ACCOUNT}/balances`), 404, "ACCOUNT_NOT_FOUND");
        expectError(await h.api("GET", `/v1/accounts/${UNKNOWN_ACCOUNT}/grants`), 404, "ACCOUNT_NOT_FOUND");
      });
    });

    describe("GET /v1/accounts", () => {
      it("pages newest first with a cursor over more than one page and filters by externalId and email", async () => {
        // A fresh application so the listing holds exactly what this test created.
        const { secretKey } = await h.server.createApp("paging");
        const api = (method: string, path: string, body?: unknown) => call(h.url, secretKey, method, path, body);
        const ids: string[] = [];
        for (let i = 0; i < 7; i++) {
          const res = await api("POST", "/v1/accounts", { externalId: `p${i}`, email: i % 2 === 0 ? "even@example.com" : "odd@example.com" });
          ids.push(res.body.id);
        }
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const res: Awaited<ReturnType<typeof api>> = await api("GET", `/v1/accounts?limit=3${cursor ? `&cursor=${cursor}` : ""}`);
          expectStatus(res, 200);
          expect(res.body.items.length).toBeLessThanOrEqual(3);
          seen.push(...res.body.items.map((a: { id: string }) => a.id));
          expect(res.body.hasMore).toBe(res.body.nextCursor !== null);
          cursor = res.body.nextCursor;
          pages++;
        } while (cursor !== null);
        expect(pages).toBe(3);
        expect(seen).toEqual([...ids].reverse());

        const byExt = await api("GET", "/v1/accounts?externalId=p3");
        expect(byExt.body.items.map((a: { id: string }) => a.id)).toEqual([ids[3]]);
        expect(byExt.body).toMatchObject({ hasMore: false, nextCursor: null });
        const byEmail = await api("GET", "/v1/accounts?email=odd@example.com");
        expect(byEmail.body.items.map((a: { id: string }) => a.id)).toEqual([ids[5], ids[3], ids[1]]);
        const def = await api("GET", "/v1/accounts");
        expect(def.body.items).toHaveLength(7);
      });

      it("rejects a page limit of 0 or 101 and unknown query parameters (400)", async () => {
        expectError(await h.api("GET", "/v1/accounts?limit=0"), 400, "VALIDATION_ERROR");
        expectError(await h.api("GET", "/v1/accounts?limit=101"), 400, "VALIDATION_ERROR");
        expectError(await h.api("GET", "/v1/accounts?colour=red"), 400, "VALIDATION_ERROR");
        expectStatus(await h.api("GET", "/v1/accounts?limit=100"), 200);
      });
    });

    describe("PATCH /v1/accounts/{accountId}", () => {
      it("updates given fields, keeps the others, merges metadata and removes keys set to \"\"", async () => {
        const created = await h.api("POST", "/v1/accounts", { externalId: uid("patch"), name: "Old", email: "old@example.com", metadata: { a: "1", b: "2" } });
        const res = await h.api("PATCH", `/v1/accounts/${created.body.id}`, { name: "New", metadata: { b: "", c: "3" } });
        expectStatus(res, 200);
        expect(res.body).toMatchObject({ name: "New", email: "old@example.com", metadata: { a: "1", c: "3" } });
        expect(res.body.metadata).not.toHaveProperty("b");
        const cleared = await h.api("PATCH", `/v1/accounts/${created.body.id}`, { email: null });
        expect(cleared.body.email).toBeNull();
        const read = await h.api("GET", `/v1/accounts/${created.body.id}`);
        expect(read.body).toMatchObject({ name: "New", email: null, metadata: { a: "1", c: "3" } });
      });

      it("rejects a merge that would pass 50 metadata keys, metadata values that are not strings, and a new externalId", async () => {
        const base = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`k${i}`, "v"]));
        const more = Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`m${i}`, "v"]));
        const created = await h.api("POST", "/v1/accounts", { metadata: base });
        expectStatus(created, 201);
        expectError(await h.api("PATCH", `/v1/accounts/${created.body.id}`, { metadata: more }), 400, "VALIDATION_ERROR");
        expectError(await h.api("PATCH", `/v1/accounts/${created.body.id}`, { metadata: { n: 1 } }), 400, "VALIDATION_ERROR");
        expectError(await h.api("PATCH", `/v1/accounts/${created.body.id}`, { externalId: "changed" }), 400, "VALIDATION_ERROR");
        const read = await h.api("GET", `/v1/accounts/${created.body.id}`);
        expect(Object.keys(read.body.metadata)).toHaveLength(30);
      });
    });

    describe("balances", () => {
      it("reads zero for an account that never had credits, in any unit", async () => {
        const created = await h.api("POST", "/v1/accounts", {});
        const res = await h.api("GET", `/v1/accounts/${created.body.id}/balance`);
        expectStatus(res, 200);
        expect(res.body).toEqual({ accountId: created.body.id, unit: "credits", balance: 0, reserved: 0, available: 0 });
        const tokens = await h.api("GET", `/v1/accounts/${created.body.id}/balance?unit=tokens`);
        expect(tokens.body).toMatchObject({ unit: "tokens", balance: 0 });
        const all = await h.api("GET", `/v1/accounts/${created.body.id}/balances`);
        expect(all.body).toEqual({ accountId: created.body.id, balances: [] });
      });

      it("reports balance, reserved and available per unit, and expiringNext for the soonest expiring credits", async () => {
        const externalId = uid("bal");
        const soon = new Date(Date.now() + 3_600_000).toISOString();
        const later = new Date(Date.now() + 7_200_000).toISOString();
        const g1 = await h.api("POST", "/v1/credits/grant", { externalId, amount: 100 });
        const accountId: string = g1.body.transaction.accountId;
        await h.api("POST", "/v1/credits/grant", { accountId, amount: 30, expiresAt: soon });
        await h.api("POST", "/v1/credits/grant", { accountId, amount: 20, expiresAt: later });
        await h.api("POST", "/v1/credits/grant", { accountId, amount: 7, unit: "gpu-seconds" });
        const before = await h.api("GET", `/v1/accounts/${accountId}/balance`);
        expectStatus(before, 200);
        expect(before.body).toEqual({ accountId, unit: "credits", balance: 150, reserved: 0, available: 150, expiringNext: { amount: 30, expiresAt: soon } });

        expectStatus(await h.api("POST", "/v1/reservations", { accountId, amount: 50, ttlSeconds: 600 }), 201);
        const credits = await h.api("GET", `/v1/accounts/${accountId}/balance`);
        expect(credits.body).toMatchObject({ accountId, unit: "credits", balance: 150, reserved: 50, available: 100 });

        const gpu = await h.api("GET", `/v1/accounts/${accountId}/balance?unit=gpu-seconds`);
        expect(gpu.body).toEqual({ accountId, unit: "gpu-seconds", balance: 7, reserved: 0, available: 7 });

        const all = await h.api("GET", `/v1/accounts/${accountId}/balances`);
        expectStatus(all, 200);
        expect(all.body.accountId).toBe(accountId);
        const byUnit = Object.fromEntries(all.body.balances.map((b: { unit: string }) => [b.unit, b]));
        expect(Object.keys(byUnit).sort()).toEqual(["credits", "gpu-seconds"]);
        expect(byUnit["credits"]).toMatchObject({ balance: 150, reserved: 50, available: 100 });
        expect(byUnit["gpu-seconds"]).toMatchObject({ balance: 7, available: 7 });
      });

      it("rejects an invalid unit name (400)", async () => {
        const created = await h.api("POST", "/v1/accounts", {});
        expectError(await h.api("GET", `/v1/accounts/${created.body.id}/balance?unit=Credits!`), 400, "VALIDATION_ERROR");
      });
    });

    describe("GET /v1/accounts/{accountId}/grants", () => {
      it("lists lots newest first with their parts, filters by unit, and `active` hides spent lots", async () => {
        const g1 = await h.api("POST", "/v1/credits/grant", { externalId: uid("lots"), amount: 10, source: "purchase", reference: "order_1" });
        const accountId: string = g1.body.transaction.accountId;
        const g2 = await h.api("POST", "/v1/credits/grant", { accountId, amount: 5, source: "promotional", priority: -1 });
        await h.api("POST", "/v1/credits/grant", { accountId, amount: 3, unit: "tokens" });
        // Burns the promotional lot (priority -1) completely, then 2 of the purchase.
        const d = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 7 });
        expectStatus(d, 201);

        const all = await h.api("GET", `/v1/accounts/${accountId}/grants?unit=credits`);
        expectStatus(all, 200);
        expect(all.body.items.map((l: { id: string }) => l.id)).toEqual([g2.body.grant.id, g1.body.grant.id]);
        expect(all.body.items[0]).toMatchObject({ amount: 5, remaining: 0, consumed: 5, reserved: 0, expired: 0, source: "promotional", priority: -1 });
        expect(all.body.items[1]).toMatchObject({ amount: 10, remaining: 8, consumed: 2, source: "purchase", reference: "order_1", transactionId: g1.body.transaction.id });

        const active = await h.api("GET", `/v1/accounts/${accountId}/grants?unit=credits&active=true`);
        expect(active.body.items.map((l: { id: string }) => l.id)).toEqual([g1.body.grant.id]);

        const everyUnit = await h.api("GET", `/v1/accounts/${accountId}/grants`);
        expect(everyUnit.body.items).toHaveLength(3);

        const paged = await h.api("GET", `/v1/accounts/${accountId}/grants?limit=2`);
        expect(paged.body).toMatchObject({ hasMore: true });
        const rest = await h.api("GET", `/v1/accounts/${accountId}/grants?limit=2&cursor=${paged.body.nextCursor}`);
        expect(rest.body).toMatchObject({ hasMore: false, nextCursor: null });
        expect(rest.body.items).toHaveLength(1);
      });
    });
  });
}

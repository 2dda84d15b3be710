import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES } from "../support/databases.ts";
import { call, startHarness, type Harness } from "../support/http.ts";
import { ManualClock } from "../../src/domain/clock.ts";
import { expectError, expectStatus, uid } from "./expect.ts";

const HOUR_MS = 3_600_000;

/** Both kinds of idempotency. The clock is moved by hand to step past the 24 h header window. */
for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`idempotency over HTTP on ${kind}`, () => {
    let h: Harness;
    const clock = new ManualClock(Date.parse("2026-07-01T00:00:00.000Z"));
    beforeAll(async () => {
      h = await startHarness(kind, { clock, jobs: false });
    });
    afterAll(async () => h?.close());

    async function funded(amount: number): Promise<string> {
      const g = await h.api("POST", "/v1/credits/grant", { externalId: uid("idem"), amount });
      expectStatus(g, 201);
      return g.body.transaction.accountId;
    }
    const balanceOf = async (accountId: string) => (await h.api("GET", `/v1/accounts/${accountId}/balance`)).body.balance as number;
    const header = () => ({ "idempotency-key": uid("hdr") });

    describe("the Idempotency-Key header", () => {
      it("replays the stored response byte for byte with idempotent-replayed: true and does the work once", async () => {
        const accountId = await funded(100);
        const key = header();
        const first = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 10 }, key);
        expectStatus(first, 201);
        expect(first.headers.get("idempotent-replayed")).toBeNull();
        const again = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 10 }, key);
        expect(again.status).toBe(201);
        expect(again.headers.get("idempotent-replayed")).toBe("true");
        expect(again.text).toBe(first.text);
        expect(again.headers.get("x-request-id")).not.toBe(first.headers.get("x-request-id"));
        expect(await balanceOf(accountId)).toBe(90);
      });

      it("replays on every mutating route: account create, upsert and patch, grant, reservation, usage, manual transaction, key revocation", async () => {
        const externalId = uid("all");
        const calls: Array<[string, string, Record<string, unknown>]> = [
          ["POST", "/v1/accounts", { externalId }],
          ["PUT", `/v1/accounts/external/${uid("put")}`, { name: "n" }],
          ["POST", "/v1/credits/grant", { externalId, amount: 50 }],
          ["POST", "/v1/reservations", { externalId, amount: 5 }],
          ["POST", "/v1/usage", { externalId, modelId: "m", usageType: "text" }],
          ["POST", "/v1/transactions", { externalId, type: "credit", amount: 1 }],
        ];
        for (const [method, path, body] of calls) {
          const key = header();
          const first = await h.api(method, path, body, key);
          expect(first.status, `${method} ${path}: ${first.text}`).toBeLessThan(300);
          const again = await h.api(method, path, body, key);
          expect(again.headers.get("idempotent-replayed"), `${method} ${path}`).toBe("true");
          expect(again.status).toBe(first.status);
          expect(again.text).toBe(first.text);
        }
        const account = await h.api("GET", `/v1/accounts/by-external-id/${externalId}`);
        const apiKey = await h.api("POST", "/v1/api-keys", { name: "to-revoke" });
        for (const [method, path, body] of [
          ["PATCH", `/v1/accounts/${account.body.id}`, { name: "patched" }],
          ["DELETE", `/v1/api-keys/${apiKey.body.apiKey.id}`, undefined],
        ] as const) {
          const key = header();
          const first = await h.api(method, path, body, key);
          expectStatus(first, 200);
          const again = await h.api(method, path, body, key);
          expect(again.headers.get("idempotent-replayed"), `${method} ${path}`).toBe("true");
          expect(again.text).toBe(first.text);
        }
        const txns = await h.api("GET", `/v1/transactions?accountId=${account.body.id}`);
        expect(txns.body.items.map((t: { type: string }) => t.type)).toEqual(["credit", "grant"]);
        const reservations = await h.api("GET", `/v1/reservations?accountId=${account.body.id}`);
        expect(reservations.body.items).toHaveLength(1);
      });

      it("answers 409 IDEMPOTENCY_KEY_REUSED for the same key with another body or another path", async () => {
        const accountId = await funded(100);
        const key = header();
        expectStatus(await h.api("POST", "/v1/credits/deduct", { accountId, amount: 10 }, key), 201);
        const otherBody = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 11 }, key);
        expectError(otherBody, 409, "IDEMPOTENCY_KEY_REUSED");
        expectError(await h.api("POST", "/v1/credits/grant", { accountId, amount: 10 }, key), 409, "IDEMPOTENCY_KEY_REUSED");
        expect(await balanceOf(accountId)).toBe(90);
      });

      it("stores and replays a final error (402) instead of running again", async () => {
        const accountId = await funded(1);
        const key = header();
        const first = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 5 }, key);
        expectError(first, 402, "INSUFFICIENT_CREDITS");
        await h.api("POST", "/v1/credits/grant", { accountId, amount: 10 });
        const again = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 5 }, key);
        expect(again.status).toBe(402);
        expect(again.headers.get("idempotent-replayed")).toBe("true");
        expect(again.text).toBe(first.text);
        expect(await balanceOf(accountId)).toBe(11);
      });

      it("does not claim the key for a request that fails validation, so the corrected request runs", async () => {
        const accountId = await funded(10);
        const key = header();
        expectError(await h.api("POST", "/v1/credits/deduct", { accountId, amount: -1 }, key), 400, "VALIDATION_ERROR");
        const fixed = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 1 }, key);
        expectStatus(fixed, 201);
        expect(fixed.headers.get("idempotent-replayed")).toBeNull();
        expect(await balanceOf(accountId)).toBe(9);
      });

      it("rejects a key longer than 255 characters (400) and accepts 255", async () => {
        const accountId = await funded(10);
        expectError(await h.api("POST", "/v1/credits/deduct", { accountId, amount: 1 }, { "idempotency-key": "k".repeat(256) }), 400, "VALIDATION_ERROR");
        expectStatus(await h.api("POST", "/v1/credits/deduct", { accountId, amount: 1 }, { "idempotency-key": `${uid()}${"k".repeat(200)}`.slice(0, 255) }), 201);
      });

      it("keeps each application's keys apart", async () => {
        const accountId = await funded(10);
        const { secretKey } = await h.server.createApp("other");
        const key = header();
        expectStatus(await h.api("POST", "/v1/credits/deduct", { accountId, amount: 1 }, key), 201);
        const other = await call(h.url, secretKey, "POST", "/v1/credits/grant", { externalId: "x", amount: 1 }, key);
        expectStatus(other, 201);
        expect(other.headers.get("idempotent-replayed")).toBeNull();
      });

      it("after the 24 h window the header key still guards the ledger: the repeat answers alreadyProcessed and moves nothing", async () => {
        const accountId = await funded(100);
        const key = header();
        const first = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 7 }, key);
        expectStatus(first, 201);
        clock.advanceMs(25 * HOUR_MS);
        const later = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 7 }, key);
        expectStatus(later, 201);
        expect(later.headers.get("idempotent-replayed")).toBeNull();
        expect(later.body).toMatchObject({ alreadyProcessed: true, transaction: { id: first.body.transaction.id } });
        expect(await balanceOf(accountId)).toBe(93);
      });
    });

    describe("the body idempotencyKey (permanent, per application)", () => {
      it("returns the original transaction with alreadyProcessed: true, forever, without moving credits again", async () => {
        const accountId = await funded(100);
        const body = { accountId, amount: 4, idempotencyKey: uid("turn") };
        const first = await h.api("POST", "/v1/credits/deduct", body);
        expectStatus(first, 201);
        expect(first.body.alreadyProcessed).toBe(false);
        expect(first.body.transaction.idempotencyKey).toBe(body.idempotencyKey);
        const again = await h.api("POST", "/v1/credits/deduct", body);
        expectStatus(again, 201);
        expect(again.body.alreadyProcessed).toBe(true);
        expect(again.body.transaction).toEqual(first.body.transaction);
        expect(again.body.balance.balance).toBe(96);
        clock.advanceMs(30 * 24 * HOUR_MS);
        const monthLater = await h.api("POST", "/v1/credits/deduct", body);
        expect(monthLater.body).toMatchObject({ alreadyProcessed: true, transaction: { id: first.body.transaction.id } });
        expect(await balanceOf(accountId)).toBe(96);
      });

      it("accepts usageEventId as an alias of idempotencyKey, and 400 when both differ", async () => {
        const accountId = await funded(100);
        const eventId = uid("evt");
        const first = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 3, usageEventId: eventId });
        expectStatus(first, 201);
        expect(first.body.transaction.idempotencyKey).toBe(eventId);
        const viaKey = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 3, idempotencyKey: eventId });
        expect(viaKey.body).toMatchObject({ alreadyProcessed: true, transaction: { id: first.body.transaction.id } });
        const viaAlias = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 3, usageEventId: eventId });
        expect(viaAlias.body.alreadyProcessed).toBe(true);
        expectError(await h.api("POST", "/v1/credits/deduct", { accountId, amount: 3, usageEventId: eventId, idempotencyKey: uid("x") }), 400, "VALIDATION_ERROR");
        expectStatus(await h.api("POST", "/v1/credits/deduct", { accountId, amount: 3, usageEventId: eventId, idempotencyKey: eventId }), 201);
        expect(await balanceOf(accountId)).toBe(97);
      });

      it("answers 409 IDEMPOTENCY_KEY_REUSED when the key was used for another amount, account or operation", async () => {
        const accountId = await funded(100);
        const otherAccount = await funded(100);
        const key = uid("k");
        expectStatus(await h.api("POST", "/v1/credits/deduct", { accountId, amount: 5, idempotencyKey: key }), 201);
        expectError(await h.api("POST", "/v1/credits/deduct", { accountId, amount: 6, idempotencyKey: key }), 409, "IDEMPOTENCY_KEY_REUSED");
        expectError(await h.api("POST", "/v1/credits/deduct", { accountId: otherAccount, amount: 5, idempotencyKey: key }), 409, "IDEMPOTENCY_KEY_REUSED");
        expectError(await h.api("POST", "/v1/credits/grant", { accountId, amount: 5, idempotencyKey: key }), 409, "IDEMPOTENCY_KEY_REUSED");
        expect(await balanceOf(accountId)).toBe(95);
        expect(await balanceOf(otherAccount)).toBe(100);
      });

      it("makes grants, manual transactions, refunds and reservations exactly-once too", async () => {
        const externalId = uid("once");
        const grant = { externalId, amount: 50, reference: "order_9", idempotencyKey: uid("g") };
        const g1 = await h.api("POST", "/v1/credits/grant", grant);
        const g2 = await h.api("POST", "/v1/credits/grant", grant);
        expect(g2.body).toMatchObject({ alreadyProcessed: true, transaction: { id: g1.body.transaction.id }, grant: { id: g1.body.grant.id } });
        const accountId: string = g1.body.transaction.accountId;

        const credit = { accountId, type: "credit", amount: 5, idempotencyKey: uid("c") };
        const c1 = await h.api("POST", "/v1/transactions", credit);
        const c2 = await h.api("POST", "/v1/transactions", credit);
        expect(c2.body).toMatchObject({ alreadyProcessed: true, transaction: { id: c1.body.transaction.id } });

        const d = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 20 });
        const refund = { transactionId: d.body.transaction.id, amount: 5, idempotencyKey: uid("r") };
        const r1 = await h.api("POST", "/v1/credits/refund", refund);
        expectStatus(r1, 201);
        const r2 = await h.api("POST", "/v1/credits/refund", refund);
        expect(r2.body).toMatchObject({ alreadyProcessed: true, transaction: { id: r1.body.transaction.id } });

        const hold = { accountId, amount: 10, idempotencyKey: uid("h") };
        const h1 = await h.api("POST", "/v1/reservations", hold);
        expectStatus(h1, 201);
        const h2 = await h.api("POST", "/v1/reservations", hold);
        expect(h2.body).toMatchObject({ id: h1.body.id, alreadyProcessed: true });
        expectError(await h.api("POST", "/v1/reservations", { ...hold, amount: 11 }), 409, "IDEMPOTENCY_KEY_REUSED");

        const balance = (await h.api("GET", `/v1/accounts/${accountId}/balance`)).body;
        expect(balance).toMatchObject({ balance: 50 + 5 - 20 + 5, reserved: 10 });
      });
    });
  });
}

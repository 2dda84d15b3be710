import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES } from "../support/databases.ts";
import { startHarness, type Harness } from "../support/http.ts";
import { expectError, expectStatus, uid } from "./expect.ts";

/** API.md "Credits": grants, deducts (burn order, dry runs, prices), refunds, manual adjustments and the transaction list. */

const UNKNOWN_TXN = "txn_01JZZZZZZZZZZZZZZZZZZZZZZZ";
const inMs = (ms: number) => new Date(Date.now() + ms).toISOString();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`credits and transactions over HTTP on ${kind}`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness(kind);
    });
    afterAll(async () => h?.close());

    /** A new account holding `amount` credits; returns its id. */
    async function funded(amount: number): Promise<string> {
      const g = await h.api("POST", "/v1/credits/grant", { externalId: uid("acct"), amount });
      expectStatus(g, 201);
      return g.body.transaction.accountId;
    }
    const balanceOf = async (accountId: string, unit = "credits") => (await h.api("GET", `/v1/accounts/${accountId}/balance?unit=${unit}`)).body;

    describe("POST /v1/credits/grant", () => {
      it("grants a lot with source, priority, expiresAt and reference, and answers transaction, grant and balance", async () => {
        const created = await h.api("POST", "/v1/accounts", { externalId: uid("g") });
        const expiresAt = inMs(86_400_000);
        const res = await h.api("POST", "/v1/credits/grant", {
          accountId: created.body.id,
          amount: 250,
          source: "purchase",
          priority: 3,
          expiresAt,
          reference: "order_123",
          description: "Starter pack",
          metadata: { campaign: "launch" },
        });
        expectStatus(res, 201);
        const { transaction, grant, balance, alreadyProcessed } = res.body;
        expect(alreadyProcessed).toBe(false);
        expect(transaction).toMatchObject({
          accountId: created.body.id,
          unit: "credits",
          type: "grant",
          amount: 250,
          balanceAfter: 250,
          reference: "order_123",
          description: "Starter pack",
          metadata: { campaign: "launch" },
          grantId: grant.id,
          refundOf: null,
          reservationId: null,
        });
        expect(transaction.id).toMatch(/^txn_/);
        expect(transaction.allocations).toEqual([{ grantId: grant.id, amount: 250, source: "purchase", expiresAt }]);
        expect(grant.id).toMatch(/^grt_/);
        expect(grant).toMatchObject({ amount: 250, remaining: 250, reserved: 0, consumed: 0, expired: 0, source: "purchase", priority: 3, expiresAt, reference: "order_123", transactionId: transaction.id });
        expect(balance).toMatchObject({ accountId: created.body.id, unit: "credits", balance: 250, reserved: 0, available: 250, expiringNext: { amount: 250, expiresAt } });
      });

      it("defaults source to manual, priority to 0 and unit to credits", async () => {
        const res = await h.api("POST", "/v1/credits/grant", { externalId: uid("g"), amount: 1 });
        expectStatus(res, 201);
        expect(res.body.grant).toMatchObject({ source: "manual", priority: 0, expiresAt: null, unit: "credits" });
      });

      it("creates the account when the externalId is unknown", async () => {
        const externalId = uid("new");
        expectError(await h.api("GET", `/v1/accounts/by-external-id/${externalId}`), 404, "ACCOUNT_NOT_FOUND");
        const res = await h.api("POST", "/v1/credits/grant", { externalId, amount: 40, unit: "tokens" });
        expectStatus(res, 201);
        const account = await h.api("GET", `/v1/accounts/by-external-id/${externalId}`);
        expectStatus(account, 200);
        expect(account.body.id).toBe(res.body.transaction.accountId);
        expect(await balanceOf(account.body.id, "tokens")).toMatchObject({ balance: 40, available: 40 });
      });

      it("answers 404 ACCOUNT_NOT_FOUND for an unknown accountId (ids are never invented)", async () => {
        expectError(await h.api("POST", "/v1/credits/grant", { accountId: "acct_01JZZZZZZZZZZZZZZZZZZZZZZZ", amount: 1 }), 404, "ACCOUNT_NOT_FOUND");
      });

      it("rejects both accountId and externalId, neither, a past expiresAt, an unknown source and a bad priority (400)", async () => {
        const accountId = await funded(1);
        const both = await h.api("POST", "/v1/credits/grant", { accountId, externalId: "x", amount: 1 });
        expectError(both, 400, "VALIDATION_ERROR");
        expect(both.body.error.details.issues.length).toBeGreaterThan(0);
        expectError(await h.api("POST", "/v1/credits/grant", { amount: 1 }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/credits/grant", { accountId, amount: 1, expiresAt: inMs(-60_000) }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/credits/grant", { accountId, amount: 1, expiresAt: "tomorrow" }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/credits/grant", { accountId, amount: 1, source: "gift" }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/credits/grant", { accountId, amount: 1, priority: 1.5 }), 400, "VALIDATION_ERROR");
        expect(await balanceOf(accountId)).toMatchObject({ balance: 1 });
      });
    });

    describe("POST /v1/credits/deduct", () => {
      it("burns lots by priority, then earliest expiry (none last), then age, with the receipt in allocations", async () => {
        const externalId = uid("burn");
        const grant = async (body: Record<string, unknown>) => (await h.api("POST", "/v1/credits/grant", { externalId, amount: 10, ...body })).body.grant;
        const oldNoExpiry = await grant({ source: "purchase" });
        await sleep(2);
        const newNoExpiry = await grant({ source: "manual" });
        const expiresLate = await grant({ source: "promotional", expiresAt: inMs(7_200_000) });
        const expiresSoon = await grant({ source: "promotional", expiresAt: inMs(3_600_000) });
        const lowPriorityExpiresSoonest = await grant({ source: "plan", priority: 1, expiresAt: inMs(1_800_000) });
        const highPriority = await grant({ source: "addon", priority: -1 });

        const res = await h.api("POST", "/v1/credits/deduct", { externalId, amount: 55, operation: "app.batch", idempotencyKey: uid("k") });
        expectStatus(res, 201);
        const { transaction, balance, alreadyProcessed } = res.body;
        expect(alreadyProcessed).toBe(false);
        expect(transaction).toMatchObject({ type: "deduct", amount: -55, balanceAfter: 5, operation: "app.batch" });
        expect(transaction.allocations).toEqual([
          { grantId: highPriority.id, amount: 10, source: "addon", expiresAt: null },
          { grantId: expiresSoon.id, amount: 10, source: "promotional", expiresAt: expiresSoon.expiresAt },
          { grantId: expiresLate.id, amount: 10, source: "promotional", expiresAt: expiresLate.expiresAt },
          { grantId: oldNoExpiry.id, amount: 10, source: "purchase", expiresAt: null },
          { grantId: newNoExpiry.id, amount: 10, source: "manual", expiresAt: null },
          { grantId: lowPriorityExpiresSoonest.id, amount: 5, source: "plan", expiresAt: lowPriorityExpiresSoonest.expiresAt },
        ]);
        expect(balance).toMatchObject({ balance: 5, reserved: 0, available: 5 });
      });

      it("dryRun answers 200 with wouldSucceed, allocations and balance, and changes nothing", async () => {
        const accountId = await funded(30);
        const before = await h.api("GET", `/v1/transactions?accountId=${accountId}`);
        const dry = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 20, dryRun: true, idempotencyKey: uid("dry") });
        expectStatus(dry, 200);
        expect(dry.body).toMatchObject({ dryRun: true, wouldSucceed: true, amount: 20, unit: "credits", balance: { balance: 30, available: 30 } });
        expect(dry.body.allocations).toHaveLength(1);
        expect(dry.body.allocations[0].amount).toBe(20);
        const short = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 31, dryRun: true });
        expectStatus(short, 200);
        expect(short.body).toMatchObject({ dryRun: true, wouldSucceed: false, allocations: [] });
        expect(await balanceOf(accountId)).toMatchObject({ balance: 30, available: 30 });
        const after = await h.api("GET", `/v1/transactions?accountId=${accountId}`);
        expect(after.body.items).toEqual(before.body.items);
      });

      it("answers 402 INSUFFICIENT_CREDITS with available, required and unit, and moves nothing", async () => {
        const accountId = await funded(3);
        const res = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 5 });
        expectError(res, 402, "INSUFFICIENT_CREDITS");
        expect(res.body.error.details).toEqual({ available: 3, required: 5, unit: "credits" });
        const otherUnit = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 1, unit: "tokens" });
        expectError(otherUnit, 402, "INSUFFICIENT_CREDITS");
        expect(otherUnit.body.error.details).toEqual({ available: 0, required: 1, unit: "tokens" });
        expect(await balanceOf(accountId)).toMatchObject({ balance: 3, available: 3 });
      });

      it("uses the operation's price when amount is absent, and answers 400 when the operation has no price", async () => {
        const accountId = await funded(100);
        const operation = `op.${uid("price").toLowerCase()}`;
        expectError(await h.api("POST", "/v1/credits/deduct", { accountId, operation }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/credits/deduct", { accountId }), 400, "VALIDATION_ERROR");
        expectStatus(await h.api("PUT", `/v1/prices/${operation}`, { unit: "credits", amount: 7 }), 200);
        const priced = await h.api("POST", "/v1/credits/deduct", { accountId, operation });
        expectStatus(priced, 201);
        expect(priced.body.transaction).toMatchObject({ amount: -7, operation, balanceAfter: 93 });
        // An explicit amount wins over the price.
        const explicit = await h.api("POST", "/v1/credits/deduct", { accountId, operation, amount: 2 });
        expect(explicit.body.transaction).toMatchObject({ amount: -2, operation, balanceAfter: 91 });
        // The price names its unit; asking for another unit is a mistake, not a silent conversion.
        expectError(await h.api("POST", "/v1/credits/deduct", { accountId, operation, unit: "tokens" }), 400, "VALIDATION_ERROR");
      });

      it("answers 404 for unknown accounts (an unknown externalId is not created by a deduct) and 400 for both refs", async () => {
        const externalId = uid("ghost");
        expectError(await h.api("POST", "/v1/credits/deduct", { externalId, amount: 1 }), 404, "ACCOUNT_NOT_FOUND");
        expectError(await h.api("GET", `/v1/accounts/by-external-id/${externalId}`), 404, "ACCOUNT_NOT_FOUND");
        expectError(await h.api("POST", "/v1/credits/deduct", { accountId: "acct_01JZZZZZZZZZZZZZZZZZZZZZZZ", amount: 1 }), 404, "ACCOUNT_NOT_FOUND");
        const accountId = await funded(5);
        expectError(await h.api("POST", "/v1/credits/deduct", { accountId, externalId: "x", amount: 1 }), 400, "VALIDATION_ERROR");
        expect(await balanceOf(accountId)).toMatchObject({ balance: 5 });
      });
    });

    describe("POST /v1/credits/refund", () => {
      it("refunds partially, then the rest by default, then refuses more (409 REFUND_EXCEEDS_ORIGINAL), returning credits to the lots that paid", async () => {
        const externalId = uid("refund");
        const a = (await h.api("POST", "/v1/credits/grant", { externalId, amount: 10, priority: 0 })).body.grant;
        const b = (await h.api("POST", "/v1/credits/grant", { externalId, amount: 10, priority: 1 })).body.grant;
        const d = await h.api("POST", "/v1/credits/deduct", { externalId, amount: 15 });
        expectStatus(d, 201);
        const accountId: string = d.body.transaction.accountId;

        // Last burned first: lot b (5 of it paid) gets its 5 back before lot a.
        const partial = await h.api("POST", "/v1/credits/refund", { transactionId: d.body.transaction.id, amount: 6, reason: "bad answer" });
        expectStatus(partial, 201);
        expect(partial.body.transaction).toMatchObject({ type: "refund", amount: 6, refundOf: d.body.transaction.id, description: "bad answer", balanceAfter: 11 });
        expect(partial.body.transaction.allocations).toEqual([
          { grantId: b.id, amount: 5, source: "manual", expiresAt: null },
          { grantId: a.id, amount: 1, source: "manual", expiresAt: null },
        ]);
        expect(partial.body.balance).toMatchObject({ balance: 11, available: 11 });

        const over = await h.api("POST", "/v1/credits/refund", { transactionId: d.body.transaction.id, amount: 10 });
        expectError(over, 409, "REFUND_EXCEEDS_ORIGINAL");

        const rest = await h.api("POST", "/v1/credits/refund", { transactionId: d.body.transaction.id });
        expectStatus(rest, 201);
        expect(rest.body.transaction).toMatchObject({ amount: 9, balanceAfter: 20 });

        expectError(await h.api("POST", "/v1/credits/refund", { transactionId: d.body.transaction.id, amount: 1 }), 409, "REFUND_EXCEEDS_ORIGINAL");
        expectError(await h.api("POST", "/v1/credits/refund", { transactionId: d.body.transaction.id }), 409, "REFUND_EXCEEDS_ORIGINAL");

        const lots = await h.api("GET", `/v1/accounts/${accountId}/grants`);
        for (const lot of lots.body.items) expect(lot).toMatchObject({ remaining: 10, consumed: 0 });
      });

      it("refunds a full spend in one call", async () => {
        const accountId = await funded(8);
        const d = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 8 });
        const r = await h.api("POST", "/v1/credits/refund", { transactionId: d.body.transaction.id, amount: 8 });
        expectStatus(r, 201);
        expect(r.body.balance).toMatchObject({ balance: 8, available: 8 });
      });

      it("refuses to refund a grant (400) and answers 404 TRANSACTION_NOT_FOUND for an unknown transaction", async () => {
        const g = await h.api("POST", "/v1/credits/grant", { externalId: uid("rg"), amount: 5 });
        expectError(await h.api("POST", "/v1/credits/refund", { transactionId: g.body.transaction.id }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/credits/refund", { transactionId: UNKNOWN_TXN }), 404, "TRANSACTION_NOT_FOUND");
        expectError(await h.api("POST", "/v1/credits/refund", { transactionId: UNKNOWN_TXN, amount: 0 }), 400, "VALIDATION_ERROR");
      });
    });

    describe("POST /v1/transactions (manual adjustments)", () => {
      it("credits add a lot, debits spend, and a debit may not overdraw (402)", async () => {
        const created = await h.api("POST", "/v1/accounts", { externalId: uid("manual") });
        const accountId: string = created.body.id;
        const credit = await h.api("POST", "/v1/transactions", { accountId, type: "credit", amount: 12, description: "goodwill" });
        expectStatus(credit, 201);
        expect(credit.body.transaction).toMatchObject({ type: "credit", amount: 12, balanceAfter: 12, description: "goodwill" });
        expect(credit.body.balance).toMatchObject({ balance: 12 });
        const debit = await h.api("POST", "/v1/transactions", { externalId: created.body.externalId, type: "debit", amount: 5 });
        expectStatus(debit, 201);
        expect(debit.body.transaction).toMatchObject({ type: "debit", amount: -5, balanceAfter: 7 });
        const over = await h.api("POST", "/v1/transactions", { accountId, type: "debit", amount: 8 });
        expectError(over, 402, "INSUFFICIENT_CREDITS");
        expect(over.body.error.details).toEqual({ available: 7, required: 8, unit: "credits" });
        expect(await balanceOf(accountId)).toMatchObject({ balance: 7 });
      });

      it("validates the type and the account reference", async () => {
        const accountId = await funded(1);
        expectError(await h.api("POST", "/v1/transactions", { accountId, type: "grant", amount: 1 }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/transactions", { accountId, amount: 1 }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/transactions", { accountId, externalId: "x", type: "credit", amount: 1 }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/transactions", { accountId: "acct_01JZZZZZZZZZZZZZZZZZZZZZZZ", type: "debit", amount: 1 }), 404, "ACCOUNT_NOT_FOUND");
      });
    });

    describe("GET /v1/transactions", () => {
      let accountId: string;
      let externalId: string;
      let all: Array<{ id: string; type: string; unit: string; createdAt: string }>;
      let midpoint: string;

      beforeAll(async () => {
        externalId = uid("list");
        const g = await h.api("POST", "/v1/credits/grant", { externalId, amount: 100 });
        accountId = g.body.transaction.accountId;
        for (let i = 0; i < 4; i++) await h.api("POST", "/v1/credits/deduct", { accountId, amount: 1 });
        await sleep(15);
        midpoint = new Date().toISOString();
        await sleep(15);
        await h.api("POST", "/v1/credits/grant", { accountId, amount: 5, unit: "tokens" });
        for (let i = 0; i < 3; i++) await h.api("POST", "/v1/credits/deduct", { accountId, amount: 1, unit: "tokens" });
        const res = await h.api("GET", `/v1/transactions?accountId=${accountId}&limit=100`);
        all = res.body.items;
      });

      it("lists an account's transactions newest first", () => {
        expect(all).toHaveLength(9);
        const ids = all.map((t) => t.id);
        expect(ids).toEqual([...ids].sort().reverse());
        expect(all[0]!.type).toBe("deduct");
        expect(all[all.length - 1]!.type).toBe("grant");
      });

      it("pages with a cursor until hasMore is false", async () => {
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const res: { body: { items: Array<{ id: string }>; nextCursor: string | null; hasMore: boolean } } = await h.api(
            "GET",
            `/v1/transactions?accountId=${accountId}&limit=4${cursor ? `&cursor=${cursor}` : ""}`,
          );
          seen.push(...res.body.items.map((t) => t.id));
          expect(res.body.hasMore).toBe(res.body.nextCursor !== null);
          cursor = res.body.nextCursor;
          pages++;
        } while (cursor !== null);
        expect(pages).toBe(3);
        expect(seen).toEqual(all.map((t) => t.id));
      });

      it("pages with an offset and reports pagination.total", async () => {
        const first = await h.api("GET", `/v1/transactions?externalId=${externalId}&limit=4&offset=0`);
        expectStatus(first, 200);
        expect(first.body.pagination).toEqual({ limit: 4, offset: 0, total: 9 });
        expect(first.body.items.map((t: { id: string }) => t.id)).toEqual(all.slice(0, 4).map((t) => t.id));
        const last = await h.api("GET", `/v1/transactions?accountId=${accountId}&limit=4&offset=8`);
        expect(last.body.pagination).toEqual({ limit: 4, offset: 8, total: 9 });
        expect(last.body.items.map((t: { id: string }) => t.id)).toEqual([all[8]!.id]);
        expect(last.body.hasMore).toBe(false);
        const beyond = await h.api("GET", `/v1/transactions?accountId=${accountId}&offset=50`);
        expect(beyond.body.items).toEqual([]);
        expect(beyond.body.pagination.total).toBe(9);
        const filtered = await h.api("GET", `/v1/transactions?accountId=${accountId}&type=deduct&offset=0&limit=2`);
        expect(filtered.body.pagination).toEqual({ limit: 2, offset: 0, total: 7 });
        const cursorOnly = await h.api("GET", `/v1/transactions?accountId=${accountId}`);
        expect(cursorOnly.body).not.toHaveProperty("pagination");
      });

      it("filters by type, unit, from and to", async () => {
        const grants = await h.api("GET", `/v1/transactions?accountId=${accountId}&type=grant`);
        expect(grants.body.items.map((t: { type: string }) => t.type)).toEqual(["grant", "grant"]);
        const tokens = await h.api("GET", `/v1/transactions?accountId=${accountId}&unit=tokens`);
        expect(tokens.body.items).toHaveLength(4);
        expect(tokens.body.items.every((t: { unit: string }) => t.unit === "tokens")).toBe(true);
        const after = await h.api("GET", `/v1/transactions?accountId=${accountId}&from=${encodeURIComponent(midpoint)}`);
        expect(after.body.items.map((t: { id: string }) => t.id)).toEqual(all.slice(0, 4).map((t) => t.id));
        const before = await h.api("GET", `/v1/transactions?accountId=${accountId}&to=${encodeURIComponent(midpoint)}`);
        expect(before.body.items.map((t: { id: string }) => t.id)).toEqual(all.slice(4).map((t) => t.id));
        const both = await h.api("GET", `/v1/transactions?accountId=${accountId}&type=deduct&unit=credits&to=${encodeURIComponent(midpoint)}`);
        expect(both.body.items).toHaveLength(4);
      });

      it("rejects cursor with offset, bad filters and limits, and answers 404 for an unknown account filter", async () => {
        expectError(await h.api("GET", `/v1/transactions?accountId=${accountId}&cursor=${all[0]!.id}&offset=1`), 400, "VALIDATION_ERROR");
        expectError(await h.api("GET", `/v1/transactions?accountId=${accountId}&type=gift`), 400, "VALIDATION_ERROR");
        expectError(await h.api("GET", `/v1/transactions?accountId=${accountId}&from=yesterday`), 400, "VALIDATION_ERROR");
        expectError(await h.api("GET", `/v1/transactions?accountId=${accountId}&offset=-1`), 400, "VALIDATION_ERROR");
        expectError(await h.api("GET", `/v1/transactions?accountId=${accountId}&limit=0`), 400, "VALIDATION_ERROR");
        expectError(await h.api("GET", `/v1/transactions?accountId=${accountId}&limit=101`), 400, "VALIDATION_ERROR");
        expectError(await h.api("GET", `/v1/transactions?accountId=${accountId}&externalId=${externalId}`), 400, "VALIDATION_ERROR");
        expectError(await h.api("GET", "/v1/transactions?accountId=acct_01JZZZZZZZZZZZZZZZZZZZZZZZ"), 404, "ACCOUNT_NOT_FOUND");
      });
    });

    describe("GET /v1/transactions/{id}", () => {
      it("returns one transaction with every contract field, and 404 TRANSACTION_NOT_FOUND for unknown ids", async () => {
        const accountId = await funded(10);
        const d = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 4, operation: "x.y", idempotencyKey: uid("t") });
        const res = await h.api("GET", `/v1/transactions/${d.body.transaction.id}`);
        expectStatus(res, 200);
        expect(res.body).toEqual(d.body.transaction);
        expect(Object.keys(res.body).sort()).toEqual(
          ["id", "accountId", "unit", "type", "amount", "balanceAfter", "idempotencyKey", "reference", "operation", "description", "metadata", "reservationId", "refundOf", "grantId", "allocations", "createdAt"].sort(),
        );
        expectError(await h.api("GET", `/v1/transactions/${UNKNOWN_TXN}`), 404, "TRANSACTION_NOT_FOUND");
      });
    });
  });
}

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES } from "../support/databases.ts";
import { call, startHarness, type Harness } from "../support/http.ts";
import { ManualClock } from "../../src/domain/clock.ts";
import { expectError, expectStatus, uid } from "./expect.ts";

const DAY_MS = 86_400_000;

/** Usage, prices and units. The clock is moved by hand so day buckets and time filters are exact. */
for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`usage, prices and units over HTTP on ${kind}`, () => {
    let h: Harness;
    const clock = new ManualClock(Date.parse("2026-05-10T08:00:00.000Z"));
    beforeAll(async () => {
      h = await startHarness(kind, { clock, jobs: false });
    });
    afterAll(async () => h?.close());

    async function funded(amount: number): Promise<string> {
      const g = await h.api("POST", "/v1/credits/grant", { externalId: uid("use"), amount });
      expectStatus(g, 201);
      return g.body.transaction.accountId;
    }
    const balanceOf = async (accountId: string) => (await h.api("GET", `/v1/accounts/${accountId}/balance`)).body;

    describe("PUT/GET /v1/prices", () => {
      it("sets an operation price and replaces it under the same id", async () => {
        const first = await h.api("PUT", "/v1/prices/app.chat.reply", { unit: "credits", amount: 5 });
        expectStatus(first, 200);
        expect(first.body).toMatchObject({ key: "app.chat.reply", unit: "credits", amount: 5, modelId: null, inputPerMillion: null, outputPerMillion: null, perRequest: null });
        expect(first.body.id).toMatch(/^prc_/);
        clock.advanceMs(1000);
        const second = await h.api("PUT", "/v1/prices/app.chat.reply", { unit: "credits", amount: 6 });
        expectStatus(second, 200);
        expect(second.body).toMatchObject({ id: first.body.id, amount: 6, createdAt: first.body.createdAt });
        expect(Date.parse(second.body.updatedAt)).toBeGreaterThan(Date.parse(first.body.updatedAt));
      });

      it("sets a model token price (perRequest defaults to 0)", async () => {
        const res = await h.api("PUT", "/v1/prices/model.small", { unit: "credits", modelId: "small-1", inputPerMillion: 100, outputPerMillion: 200 });
        expectStatus(res, 200);
        expect(res.body).toMatchObject({ key: "model.small", modelId: "small-1", inputPerMillion: 100, outputPerMillion: 200, perRequest: 0, amount: null });
      });

      it("lists prices by key with cursor paging", async () => {
        const { secretKey } = await h.server.createApp("prices");
        const api = (m: string, p: string, b?: unknown) => call(h.url, secretKey, m, p, b);
        for (const key of ["c.op", "a.op", "b.op"]) expectStatus(await api("PUT", `/v1/prices/${key}`, { unit: "credits", amount: 1 }), 200);
        const p1 = await api("GET", "/v1/prices?limit=2");
        expectStatus(p1, 200);
        expect(p1.body.items.map((p: { key: string }) => p.key)).toEqual(["a.op", "b.op"]);
        expect(p1.body.hasMore).toBe(true);
        const p2 = await api("GET", `/v1/prices?limit=2&cursor=${p1.body.nextCursor}`);
        expect(p2.body.items.map((p: { key: string }) => p.key)).toEqual(["c.op"]);
        expect(p2.body).toMatchObject({ hasMore: false, nextCursor: null });
      });

      it("rejects mixed or incomplete shapes, negative prices, bad units and bad keys (400)", async () => {
        expectError(await h.api("PUT", "/v1/prices/x", { unit: "credits" }), 400, "VALIDATION_ERROR");
        expectError(await h.api("PUT", "/v1/prices/x", { unit: "credits", amount: 0 }), 400, "VALIDATION_ERROR");
        expectError(await h.api("PUT", "/v1/prices/x", { unit: "credits", amount: 1, modelId: "m" }), 400, "VALIDATION_ERROR");
        expectError(await h.api("PUT", "/v1/prices/x", { unit: "credits", modelId: "m", inputPerMillion: -1, outputPerMillion: 1 }), 400, "VALIDATION_ERROR");
        expectError(await h.api("PUT", "/v1/prices/x", { unit: "Credits", amount: 1 }), 400, "VALIDATION_ERROR");
        expectError(await h.api("PUT", "/v1/prices/bad%20key", { unit: "credits", amount: 1 }), 400, "VALIDATION_ERROR");
        expectError(await h.api("GET", "/v1/prices?limit=0"), 400, "VALIDATION_ERROR");
      });
    });

    describe("PUT/GET /v1/units", () => {
      it("declares a unit's display name and decimals, updates it, and lists declared units", async () => {
        const res = await h.api("PUT", "/v1/units/usd-cents", { name: "US dollars", decimals: 2 });
        expectStatus(res, 200);
        expect(res.body).toMatchObject({ unit: "usd-cents", name: "US dollars", decimals: 2 });
        const renamed = await h.api("PUT", "/v1/units/usd-cents", { name: "USD" });
        expect(renamed.body).toMatchObject({ unit: "usd-cents", name: "USD", decimals: 2, createdAt: res.body.createdAt });
        const list = await h.api("GET", "/v1/units");
        expectStatus(list, 200);
        expect(list.body.items).toEqual(expect.arrayContaining([expect.objectContaining({ unit: "usd-cents", name: "USD", decimals: 2 })]));
      });

      it("rejects an invalid unit name and out-of-range decimals (400), while undeclared units just work", async () => {
        expectError(await h.api("PUT", "/v1/units/9lives", { name: "x" }), 400, "VALIDATION_ERROR");
        expectError(await h.api("PUT", "/v1/units/ok", { decimals: 19 }), 400, "VALIDATION_ERROR");
        expectError(await h.api("PUT", "/v1/units/ok", { decimals: -1 }), 400, "VALIDATION_ERROR");
        const g = await h.api("POST", "/v1/credits/grant", { externalId: uid("u"), amount: 3, unit: "never-declared" });
        expectStatus(g, 201);
        expect(g.body.balance).toMatchObject({ unit: "never-declared", balance: 3 });
      });
    });

    describe("POST /v1/usage", () => {
      it("records a model call without charging: no transaction, defaults filled in", async () => {
        const accountId = await funded(10);
        const res = await h.api("POST", "/v1/usage", { accountId, modelId: "gpt-x", usageType: "text", inputTokens: 10, outputTokens: 20 });
        expectStatus(res, 201);
        expect(res.body).not.toHaveProperty("transaction");
        expect(res.body.usage).toMatchObject({
          accountId,
          modelId: "gpt-x",
          usageType: "text",
          context: "customer",
          inputTokens: 10,
          outputTokens: 20,
          quantity: 0,
          credits: 0,
          transactionId: null,
        });
        expect(res.body.usage.id).toMatch(/^use_/);
        expect(await balanceOf(accountId)).toMatchObject({ balance: 10 });
      });

      it("with charge: true deducts ceil(tokens × price / 10^6) + perRequest in the same transaction and links it", async () => {
        await h.api("PUT", "/v1/prices/model.big", { unit: "credits", modelId: "big-1", inputPerMillion: 3000, outputPerMillion: 15000, perRequest: 2 });
        const accountId = await funded(100);
        const res = await h.api("POST", "/v1/usage", { accountId, modelId: "big-1", usageType: "text", inputTokens: 1000, outputTokens: 567, charge: true });
        expectStatus(res, 201);
        // 1000 × 3000 / 1e6 = 3; 567 × 15000 / 1e6 = 8.505; ceil(11.505) = 12; + 2 per request.
        expect(res.body.usage).toMatchObject({ credits: 14, unit: "credits", transactionId: res.body.transaction.id });
        expect(res.body.transaction).toMatchObject({ type: "deduct", amount: -14, balanceAfter: 86 });
        const txn = await h.api("GET", `/v1/transactions/${res.body.transaction.id}`);
        expectStatus(txn, 200);
        expect(await balanceOf(accountId)).toMatchObject({ balance: 86 });
        // One token still costs a whole credit (ceil), plus the per-request fee.
        const tiny = await h.api("POST", "/v1/usage", { accountId, modelId: "big-1", usageType: "text", outputTokens: 1, charge: true });
        expect(tiny.body.usage.credits).toBe(3);
      });

      it("with charge: true answers 402 when short and then writes no usage record", async () => {
        await h.api("PUT", "/v1/prices/model.pricey", { unit: "credits", modelId: "pricey-1", inputPerMillion: 1_000_000, outputPerMillion: 0 });
        const accountId = await funded(5);
        const res = await h.api("POST", "/v1/usage", { accountId, modelId: "pricey-1", usageType: "image", inputTokens: 6, charge: true });
        expectError(res, 402, "INSUFFICIENT_CREDITS");
        expect(res.body.error.details).toEqual({ available: 5, required: 6, unit: "credits" });
        const list = await h.api("GET", `/v1/usage?accountId=${accountId}`);
        expect(list.body.items).toEqual([]);
        expect(await balanceOf(accountId)).toMatchObject({ balance: 5 });
      });

      it("with charge: true and no price for the model answers 404 PRICE_NOT_FOUND and records nothing", async () => {
        const accountId = await funded(5);
        expectError(await h.api("POST", "/v1/usage", { accountId, modelId: "unpriced", usageType: "text", inputTokens: 1, charge: true }), 404, "PRICE_NOT_FOUND");
        const list = await h.api("GET", `/v1/usage?accountId=${accountId}`);
        expect(list.body.items).toEqual([]);
      });

      it("links a record to an existing transaction, and 404 TRANSACTION_NOT_FOUND for an unknown one", async () => {
        const accountId = await funded(10);
        const d = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 2 });
        const res = await h.api("POST", "/v1/usage", { accountId, modelId: "m", usageType: "audio", quantity: 30, transactionId: d.body.transaction.id, context: "internal" });
        expectStatus(res, 201);
        expect(res.body.usage).toMatchObject({ transactionId: d.body.transaction.id, quantity: 30, context: "internal" });
        expectError(
          await h.api("POST", "/v1/usage", { accountId, modelId: "m", usageType: "audio", transactionId: "txn_01JZZZZZZZZZZZZZZZZZZZZZZZ" }),
          404,
          "TRANSACTION_NOT_FOUND",
        );
      });

      it("replays a repeat with the same idempotencyKey without charging twice, and 409 when the key was used for something else", async () => {
        await h.api("PUT", "/v1/prices/model.rep", { unit: "credits", modelId: "rep-1", inputPerMillion: 1_000_000, outputPerMillion: 0 });
        const accountId = await funded(10);
        const body = { accountId, modelId: "rep-1", usageType: "text", inputTokens: 3, charge: true, idempotencyKey: uid("use") };
        const first = await h.api("POST", "/v1/usage", body);
        expectStatus(first, 201);
        const again = await h.api("POST", "/v1/usage", body);
        expectStatus(again, 201);
        expect(again.body).toMatchObject({ alreadyProcessed: true, usage: { id: first.body.usage.id }, transaction: { id: first.body.transaction.id } });
        expectError(await h.api("POST", "/v1/usage", { ...body, modelId: "other-model" }), 409, "IDEMPOTENCY_KEY_REUSED");
        // A usage key may not reuse a ledger key either: the charge would be a second transaction under it.
        const d = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 1, idempotencyKey: uid("ledger") });
        expectError(await h.api("POST", "/v1/usage", { ...body, idempotencyKey: d.body.transaction.idempotencyKey }), 409, "IDEMPOTENCY_KEY_REUSED");
        expect(await balanceOf(accountId)).toMatchObject({ balance: 6 });
      });

      it("validates the account reference, usageType, modelId, token counts, and charge with transactionId", async () => {
        const accountId = await funded(1);
        expectError(await h.api("POST", "/v1/usage", { accountId, externalId: "x", modelId: "m", usageType: "text" }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/usage", { modelId: "m", usageType: "text" }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/usage", { accountId, modelId: "m", usageType: "video" }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/usage", { accountId, usageType: "text" }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/usage", { accountId, modelId: "m", usageType: "text", inputTokens: -1 }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/usage", { accountId, modelId: "m", usageType: "text", context: "partner" }), 400, "VALIDATION_ERROR");
        const d = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 1 });
        expectError(await h.api("POST", "/v1/usage", { accountId, modelId: "m", usageType: "text", charge: true, transactionId: d.body.transaction.id }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/usage", { accountId: "acct_01JZZZZZZZZZZZZZZZZZZZZZZZ", modelId: "m", usageType: "text" }), 404, "ACCOUNT_NOT_FOUND");
      });
    });

    describe("GET /v1/usage and /v1/usage/summary", () => {
      let api: (m: string, p: string, b?: unknown) => ReturnType<typeof call>;
      let alice: string;
      let bob: string;
      let day1: number;
      const ids: string[] = [];

      beforeAll(async () => {
        // A separate application so the summaries hold exactly these records.
        const { secretKey } = await h.server.createApp("usage");
        api = (m, p, b) => call(h.url, secretKey, m, p, b);
        await api("PUT", "/v1/prices/m.a", { unit: "credits", modelId: "model-a", inputPerMillion: 1_000_000, outputPerMillion: 2_000_000 });
        alice = (await api("POST", "/v1/credits/grant", { externalId: "alice", amount: 1000 })).body.transaction.accountId;
        bob = (await api("POST", "/v1/credits/grant", { externalId: "bob", amount: 1000 })).body.transaction.accountId;
        day1 = Date.UTC(2026, 5, 1, 10);
        clock.set(day1);
        const record = async (body: Record<string, unknown>) => {
          const res = await api("POST", "/v1/usage", body);
          expectStatus(res, 201);
          ids.push(res.body.usage.id);
          clock.advanceMs(60_000);
        };
        await record({ accountId: alice, modelId: "model-a", usageType: "text", inputTokens: 2, outputTokens: 1, charge: true }); // 4 credits
        await record({ accountId: alice, modelId: "model-b", usageType: "image", quantity: 3 });
        await record({ accountId: bob, modelId: "model-a", usageType: "text", inputTokens: 1, charge: true, context: "internal" }); // 1 credit
        clock.set(day1 + DAY_MS);
        await record({ accountId: alice, modelId: "model-a", usageType: "text", outputTokens: 5, charge: true }); // 10 credits
        await record({ externalId: "bob", modelId: "model-b", usageType: "embedding", inputTokens: 100 });
      });

      it("lists records newest first, pages with a cursor, and filters by account, externalId, context, modelId, from and to", async () => {
        const all = await api("GET", "/v1/usage?limit=100");
        expectStatus(all, 200);
        expect(all.body.items.map((u: { id: string }) => u.id)).toEqual([...ids].reverse());
        const p1 = await api("GET", "/v1/usage?limit=3");
        expect(p1.body.hasMore).toBe(true);
        const p2 = await api("GET", `/v1/usage?limit=3&cursor=${p1.body.nextCursor}`);
        expect([...p1.body.items, ...p2.body.items].map((u: { id: string }) => u.id)).toEqual([...ids].reverse());
        expect(p2.body).toMatchObject({ hasMore: false, nextCursor: null });

        const mine = await api("GET", `/v1/usage?accountId=${alice}`);
        expect(mine.body.items).toHaveLength(3);
        const bobs = await api("GET", "/v1/usage?externalId=bob");
        expect(bobs.body.items.every((u: { accountId: string }) => u.accountId === bob)).toBe(true);
        expect(bobs.body.items).toHaveLength(2);
        const internal = await api("GET", "/v1/usage?context=internal");
        expect(internal.body.items.map((u: { id: string }) => u.id)).toEqual([ids[2]]);
        const modelB = await api("GET", "/v1/usage?modelId=model-b");
        expect(modelB.body.items.map((u: { id: string }) => u.id)).toEqual([ids[4], ids[1]]);
        const from = new Date(day1 + DAY_MS).toISOString();
        const secondDay = await api("GET", `/v1/usage?from=${from}`);
        expect(secondDay.body.items.map((u: { id: string }) => u.id)).toEqual([ids[4], ids[3]]);
        const firstDay = await api("GET", `/v1/usage?to=${from}`);
        expect(firstDay.body.items.map((u: { id: string }) => u.id)).toEqual([ids[2], ids[1], ids[0]]);
        expectError(await api("GET", "/v1/usage?externalId=nobody"), 404, "ACCOUNT_NOT_FOUND");
        expectError(await api("GET", `/v1/usage?accountId=${alice}&externalId=alice`), 400, "VALIDATION_ERROR");
        expectError(await api("GET", "/v1/usage?limit=101"), 400, "VALIDATION_ERROR");
      });

      it("summarizes by model (the default)", async () => {
        const res = await api("GET", "/v1/usage/summary?groupBy=model");
        expectStatus(res, 200);
        expect(res.body.rows).toEqual([
          { key: "model-a", events: 3, inputTokens: 3, outputTokens: 6, quantity: 0, credits: 15 },
          { key: "model-b", events: 2, inputTokens: 100, outputTokens: 0, quantity: 3, credits: 0 },
        ]);
        const byDefault = await api("GET", "/v1/usage/summary");
        expect(byDefault.body.rows).toEqual(res.body.rows);
      });

      it("summarizes by UTC day", async () => {
        const res = await api("GET", "/v1/usage/summary?groupBy=day");
        expect(res.body.rows).toEqual([
          { key: "2026-06-01", events: 3, inputTokens: 3, outputTokens: 1, quantity: 3, credits: 5 },
          { key: "2026-06-02", events: 2, inputTokens: 100, outputTokens: 5, quantity: 0, credits: 10 },
        ]);
      });

      it("summarizes by usage type", async () => {
        const res = await api("GET", "/v1/usage/summary?groupBy=usageType");
        const byKey = Object.fromEntries(res.body.rows.map((r: { key: string }) => [r.key, r]));
        expect(Object.keys(byKey).sort()).toEqual(["embedding", "image", "text"]);
        expect(byKey["text"]).toMatchObject({ events: 3, credits: 15 });
        expect(byKey["image"]).toMatchObject({ events: 1, quantity: 3 });
        expect(byKey["embedding"]).toMatchObject({ events: 1, inputTokens: 100 });
      });

      it("summarizes by account, and narrows by account, context and time", async () => {
        const res = await api("GET", "/v1/usage/summary?groupBy=account");
        const byKey = Object.fromEntries(res.body.rows.map((r: { key: string }) => [r.key, r]));
        expect(byKey[alice]).toMatchObject({ events: 3, credits: 14 });
        expect(byKey[bob]).toMatchObject({ events: 2, credits: 1 });
        const aliceOnly = await api("GET", `/v1/usage/summary?groupBy=model&accountId=${alice}`);
        expect(aliceOnly.body.rows).toEqual([
          { key: "model-a", events: 2, inputTokens: 2, outputTokens: 6, quantity: 0, credits: 14 },
          { key: "model-b", events: 1, inputTokens: 0, outputTokens: 0, quantity: 3, credits: 0 },
        ]);
        const internal = await api("GET", "/v1/usage/summary?groupBy=account&context=internal");
        expect(internal.body.rows).toEqual([{ key: bob, events: 1, inputTokens: 1, outputTokens: 0, quantity: 0, credits: 1 }]);
        const secondDay = await api("GET", `/v1/usage/summary?groupBy=day&from=${new Date(day1 + DAY_MS).toISOString()}`);
        expect(secondDay.body.rows.map((r: { key: string }) => r.key)).toEqual(["2026-06-02"]);
        expectError(await api("GET", "/v1/usage/summary?groupBy=week"), 400, "VALIDATION_ERROR");
      });
    });
  });
}

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyLedger } from "../../src/domain/verify.ts";
import { DATABASES } from "../support/databases.ts";
import { startHarness, type Harness } from "../support/http.ts";
import { ManualClock } from "../../src/domain/clock.ts";
import { renewOnce } from "../../src/jobs/renewals.ts";

const HOUR = 3_600_000;

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`spend limits and auto top-up on ${kind}`, () => {
    let h: Harness;
    const clock = new ManualClock(Date.parse("2026-03-10T10:00:00.000Z"));
    beforeAll(async () => {
      h = await startHarness(kind, { clock, jobs: false });
    });
    afterAll(async () => h?.close());

    const newAccount = async (credits: number) => {
      const account = (await h.api("POST", "/v1/accounts", { externalId: `l_${Math.random().toString(36).slice(2)}` })).body;
      if (credits > 0) await h.api("POST", "/v1/credits/grant", { accountId: account.id, amount: credits });
      return account as { id: string };
    };
    const orders = (accountId: string) =>
      h.server.server.db.read((q) => q.all<{ order_id: string; status: string; kind: string }>("SELECT order_id, status, kind FROM orders WHERE app_id = ? AND account_id = ? ORDER BY order_id", [h.appId, accountId]));

    it("deducts, captures and confirms past a window's limit fail with 402 SPEND_LIMIT_EXCEEDED; the window rolls over", async () => {
      const account = await newAccount(10_000);
      const set = await h.api("PUT", `/v1/accounts/${account.id}/spend-limits/credits`, { perHour: 100, perDay: 250 });
      expect(set.status).toBe(200);
      expect(set.body).toMatchObject({ perHour: 100, perDay: 250, perMonth: null, spent: { hour: 0, day: 0, month: 0 } });
      expect((await h.api("POST", "/v1/credits/deduct", { accountId: account.id, amount: 60 })).status).toBe(201);
      const over = await h.api("POST", "/v1/credits/deduct", { accountId: account.id, amount: 50 });
      expect(over.status).toBe(402);
      expect(over.body.error).toMatchObject({ code: "SPEND_LIMIT_EXCEEDED", details: { window: "hour", limit: 100, spent: 60 } });
      // A reservation is not a spend; confirming past the limit is.
      const rsv = (await h.api("POST", "/v1/reservations", { accountId: account.id, amount: 80 })).body;
      const confirm = await h.api("POST", `/v1/reservations/${rsv.reservation?.id ?? rsv.id}/confirm`, { amount: 80 });
      expect(confirm.status).toBe(402);
      expect(confirm.body.error.code).toBe("SPEND_LIMIT_EXCEEDED");
      const capture = await h.api("POST", `/v1/reservations/${rsv.reservation?.id ?? rsv.id}/capture`, { amount: 40 });
      expect(capture.status).toBe(200);
      expect((await h.api("GET", `/v1/accounts/${account.id}/balance`)).body.balance).toBe(10_000 - 100);
      clock.advanceMs(HOUR);
      expect((await h.api("POST", "/v1/credits/deduct", { accountId: account.id, amount: 100 })).status).toBe(201);
      clock.advanceMs(HOUR);
      const daily = await h.api("POST", "/v1/credits/deduct", { accountId: account.id, amount: 60 });
      expect(daily.body.error).toMatchObject({ code: "SPEND_LIMIT_EXCEEDED", details: { window: "day", limit: 250, spent: 200 } });
      const view = (await h.api("GET", `/v1/accounts/${account.id}/spend-limits/credits`)).body;
      expect(view.spent).toMatchObject({ hour: 0, day: 200 });
      // Removing every limit lifts the guard.
      await h.api("PUT", `/v1/accounts/${account.id}/spend-limits/credits`, { perHour: null, perDay: null, perMonth: null });
      expect((await h.api("POST", "/v1/credits/deduct", { accountId: account.id, amount: 500 })).status).toBe(201);
    });

    it("concurrent deducts never spend past the limit", async () => {
      const account = await newAccount(10_000);
      await h.api("PUT", `/v1/accounts/${account.id}/spend-limits/credits`, { perHour: 100 });
      const results = await Promise.all(Array.from({ length: 20 }, () => h.api("POST", "/v1/credits/deduct", { accountId: account.id, amount: 10 })));
      expect(results.filter((r) => r.status === 201)).toHaveLength(10);
      expect(results.filter((r) => r.status === 402)).toHaveLength(10);
      expect((await h.api("GET", `/v1/accounts/${account.id}/balance`)).body.balance).toBe(9_900);
    });

    it("auto top-up starts one purchase when available drops below the threshold, never two at once", async () => {
      const account = await newAccount(150);
      const pack = (await h.api("POST", "/v1/addons", { name: "Refill", unit: "credits", creditQty: 500, priceAmount: 0, currency: "usd" })).body;
      const put = await h.api("PUT", `/v1/accounts/${account.id}/auto-topup`, { unit: "credits", threshold: 100, addonId: pack.id, enabled: true });
      expect(put.body).toMatchObject({ threshold: 100, enabled: true, inFlightOrderId: null });
      await h.api("POST", "/v1/credits/deduct", { accountId: account.id, amount: 40 }); // 110: above
      expect(await orders(account.id)).toHaveLength(0);
      const spends = await Promise.all(Array.from({ length: 8 }, () => h.api("POST", "/v1/credits/deduct", { accountId: account.id, amount: 10 })));
      expect(spends.every((s) => s.status === 201)).toBe(true);
      expect(await orders(account.id)).toEqual([expect.objectContaining({ status: "pending", kind: "auto_topup" })]);
      const result = await renewOnce(h.server.server.db, clock);
      expect(result.topups).toBe(1);
      expect((await h.api("GET", `/v1/accounts/${account.id}/balance`)).body.balance).toBe(30 + 500);
      expect((await orders(account.id)).map((o) => o.status)).toEqual(["paid"]);
      // The marker is cleared: the next drop below the threshold starts the next purchase.
      await h.api("POST", "/v1/credits/deduct", { accountId: account.id, amount: 450 });
      expect((await orders(account.id)).map((o) => o.status)).toEqual(["paid", "pending"]);
    });

    it("a paid auto top-up waits for payment; while it is pending no second one starts", async () => {
      const account = await newAccount(200);
      const pack = (await h.api("POST", "/v1/addons", { name: "Paid refill", unit: "credits", creditQty: 1000, priceAmount: 1500, currency: "usd" })).body;
      await h.api("PUT", `/v1/accounts/${account.id}/auto-topup`, { unit: "credits", threshold: 100, addonId: pack.id, enabled: true });
      await h.api("POST", "/v1/credits/deduct", { accountId: account.id, amount: 150 });
      await h.api("POST", "/v1/credits/deduct", { accountId: account.id, amount: 20 });
      const pending = await orders(account.id);
      expect(pending).toHaveLength(1);
      await renewOnce(h.server.server.db, clock);
      expect((await orders(account.id))[0]!.status).toBe("pending");
      expect((await h.api("POST", `/v1/orders/${pending[0]!.order_id}/mark-paid`)).status).toBe(200);
      expect((await h.api("GET", `/v1/accounts/${account.id}/balance`)).body.balance).toBe(1030);
    });

    it("the ledger verifies after everything above (balances = ledger = lots, every lot adds up)", async () => {
      const report = await verifyLedger(h.server.server.db);
      expect(report.problems).toEqual([]);
    });
  });
}

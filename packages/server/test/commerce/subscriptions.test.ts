import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyLedger } from "../../src/domain/verify.ts";
import { DATABASES, freshDatabase } from "../support/databases.ts";
import { call, startHarness, type Harness } from "../support/http.ts";
import { ManualClock } from "../../src/domain/clock.ts";
import { startTestServer } from "../../src/testing.ts";
import { renewOnce } from "../../src/jobs/renewals.ts";

const DAY = 86_400_000;
const START = Date.parse("2026-01-15T00:00:00.000Z");

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`catalog, subscriptions, renewals and entitlements on ${kind}`, () => {
    let h: Harness;
    const clock = new ManualClock(START);
    const db = () => h.server.server.db;

    beforeAll(async () => {
      h = await startHarness(kind, { clock, jobs: false });
    });
    afterAll(async () => h?.close());

    async function setup(opts: { trialDays?: number; rollover?: boolean } = {}) {
      const product = (await h.api("POST", "/v1/products", { name: "Chat" })).body;
      const plan = await h.api("POST", "/v1/plans", {
        productId: product.id, name: "Pro", priceAmount: 2000, currency: "usd", interval: "month",
        ...(opts.trialDays !== undefined ? { trialDays: opts.trialDays } : {}),
        credits: [{ unit: "credits", amount: 1000, rollover: opts.rollover ?? false }], features: ["export", "gpt-5"],
      });
      expect(plan.status).toBe(201);
      const account = (await h.api("POST", "/v1/accounts", { externalId: `u_${Math.random().toString(36).slice(2)}` })).body;
      return { product, plan: plan.body, account };
    }
    const balance = async (accountId: string) => (await h.api("GET", `/v1/accounts/${accountId}/balance`)).body;

    it("creates, gets and lists products, plans and add-ons; unknown ids are 404 with their own codes", async () => {
      const { product, plan } = await setup();
      expect((await h.api("GET", `/v1/products/${product.id}`)).body.name).toBe("Chat");
      expect((await h.api("GET", `/v1/plans/${plan.id}`)).body).toMatchObject({ priceAmount: 2000, interval: "month", credits: [{ unit: "credits", amount: 1000, rollover: false }] });
      expect((await h.api("GET", "/v1/plans")).body.items.map((p: { id: string }) => p.id)).toContain(plan.id);
      const addon = await h.api("POST", "/v1/addons", { name: "Pack", unit: "credits", creditQty: 500, priceAmount: 900, currency: "usd", expiresInDays: 30 });
      expect(addon.status).toBe(201);
      expect((await h.api("GET", `/v1/addons/${addon.body.id}`)).body.expiresInDays).toBe(30);
      expect((await h.api("GET", "/v1/plans/plan_nope")).body.error.code).toBe("PLAN_NOT_FOUND");
      expect((await h.api("GET", "/v1/products/prd_nope")).body.error.code).toBe("PRODUCT_NOT_FOUND");
      expect((await h.api("GET", "/v1/addons/addon_nope")).body.error.code).toBe("ADDON_NOT_FOUND");
    });

    it("grants the first period at once, renews each period exactly once, and expires the previous period's credits", async () => {
      clock.set(START);
      const { plan, account } = await setup();
      const sub = await h.api("POST", "/v1/subscriptions", { accountId: account.id, planId: plan.id, startMode: "immediate" });
      expect(sub.status).toBe(201);
      expect(sub.body).toMatchObject({ status: "active", currentPeriodStart: "2026-01-15T00:00:00.000Z", currentPeriodEnd: "2026-02-15T00:00:00.000Z" });
      expect((await balance(account.id)).balance).toBe(1000);
      await h.api("POST", "/v1/credits/deduct", { accountId: account.id, amount: 300 });
      clock.set(Date.parse("2026-02-15T00:00:00.000Z"));
      await renewOnce(db(), clock);
      await renewOnce(db(), clock);
      // 700 left of January expired; February's 1000 granted once.
      expect((await balance(account.id)).balance).toBe(1000);
      const got = (await h.api("GET", `/v1/subscriptions/${sub.body.id}`)).body;
      expect(got.currentPeriodStart).toBe("2026-02-15T00:00:00.000Z");
      const txns = (await h.api("GET", `/v1/transactions?accountId=${account.id}&limit=100`)).body.items;
      expect(txns.filter((t: { type: string }) => t.type === "grant")).toHaveLength(2);
      expect(txns.filter((t: { type: string }) => t.type === "expiry").map((t: { amount: number }) => t.amount)).toEqual([-700]);
    });

    it("catches up every missed period after downtime, each granted once; rollover credits survive", async () => {
      clock.set(START);
      const { plan, account } = await setup({ rollover: true });
      await h.api("POST", "/v1/subscriptions", { accountId: account.id, planId: plan.id, startMode: "immediate" });
      clock.set(Date.parse("2026-05-20T00:00:00.000Z")); // four period starts missed: Feb, Mar, Apr, May 15
      const first = await renewOnce(db(), clock);
      expect(first.advanced).toBeGreaterThanOrEqual(1);
      await renewOnce(db(), clock);
      expect((await balance(account.id)).balance).toBe(5000);
      const txns = (await h.api("GET", `/v1/transactions?accountId=${account.id}&limit=100`)).body.items;
      const keys = txns.filter((t: { type: string }) => t.type === "grant").map((t: { idempotencyKey: string }) => t.idempotencyKey);
      expect(new Set(keys).size).toBe(5);
    });

    it("a trial grants credits, turns active at its end; entitlements follow the subscription the instant it changes", async () => {
      clock.set(START);
      const { plan, account, product } = await setup({ trialDays: 7 });
      const check = async (q: string) => (await h.api("GET", `/v1/entitlements/check?accountId=${account.id}${q}`)).body;
      expect(await check("")).toEqual({ allowed: false, reason: "no_subscription" });
      const sub = (await h.api("POST", "/v1/subscriptions", { accountId: account.id, planId: plan.id, startMode: "immediate" })).body;
      expect(sub.status).toBe("trial");
      expect(sub.currentPeriodEnd).toBe("2026-01-22T00:00:00.000Z");
      expect(await check("&feature=export")).toEqual({ allowed: true, reason: "ok" });
      expect(await check("&feature=nope")).toEqual({ allowed: false, reason: "feature_not_in_plan" });
      expect(await check(`&productId=${product.id}`)).toEqual({ allowed: true, reason: "ok" });
      expect((await h.api("GET", `/v1/accounts/${account.id}/entitlements`)).body.features).toEqual([
        { feature: "export", productId: product.id, planId: plan.id },
        { feature: "gpt-5", productId: product.id, planId: plan.id },
      ]);
      clock.set(Date.parse("2026-01-22T00:00:00.000Z"));
      await renewOnce(db(), clock);
      const after = (await h.api("GET", `/v1/subscriptions/${sub.id}`)).body;
      expect(after).toMatchObject({ status: "active", currentPeriodStart: "2026-01-22T00:00:00.000Z", currentPeriodEnd: "2026-02-22T00:00:00.000Z" });
      // Cancel at period end: still entitled, then canceled at the end even before the scheduler runs.
      const pending = (await h.api("POST", `/v1/subscriptions/${sub.id}/cancel`, { reason: "too pricey" })).body;
      expect(pending).toMatchObject({ status: "pending_cancel", cancelAtPeriodEnd: true, cancelReason: "too pricey" });
      expect((await check("&feature=export")).allowed).toBe(true);
      clock.set(Date.parse("2026-02-22T00:00:00.000Z"));
      expect(await check("&feature=export")).toEqual({ allowed: false, reason: "no_subscription" });
      await renewOnce(db(), clock);
      expect((await h.api("GET", `/v1/subscriptions/${sub.id}`)).body).toMatchObject({ status: "canceled", canceledAt: "2026-02-22T00:00:00.000Z" });
      const listed = (await h.api("GET", `/v1/subscriptions?accountId=${account.id}&status=canceled`)).body.items;
      expect(listed.map((s: { id: string }) => s.id)).toEqual([sub.id]);
      // Nothing granted for the period after cancellation: trial 1000 + one paid period 1000.
      const grants = (await h.api("GET", `/v1/transactions?accountId=${account.id}&limit=100`)).body.items.filter((t: { type: string }) => t.type === "grant");
      expect(grants).toHaveLength(2);
    });

    it("startMode period_end switches plans when the current period ends, granting the new plan then", async () => {
      clock.set(START);
      const { plan, account, product } = await setup();
      const old = (await h.api("POST", "/v1/subscriptions", { accountId: account.id, planId: plan.id, startMode: "immediate" })).body;
      const bigger = (await h.api("POST", "/v1/plans", { productId: product.id, name: "Max", priceAmount: 5000, currency: "usd", interval: "month", credits: [{ unit: "credits", amount: 5000 }], features: ["export", "max"] })).body;
      const next = (await h.api("POST", "/v1/subscriptions", { accountId: account.id, planId: bigger.id, startMode: "period_end" })).body;
      expect(next.currentPeriodStart).toBe("2026-02-15T00:00:00.000Z");
      expect((await h.api("GET", `/v1/subscriptions/${old.id}`)).body.status).toBe("pending_cancel");
      expect((await h.api("GET", `/v1/entitlements/check?accountId=${account.id}&feature=max`)).body.allowed).toBe(false);
      expect((await balance(account.id)).balance).toBe(1000);
      clock.set(Date.parse("2026-02-15T00:00:00.000Z"));
      await renewOnce(db(), clock);
      expect((await h.api("GET", `/v1/subscriptions/${old.id}`)).body.status).toBe("canceled");
      expect((await h.api("GET", `/v1/entitlements/check?accountId=${account.id}&feature=max`)).body.allowed).toBe(true);
      expect((await balance(account.id)).balance).toBe(5000);
    });

    it("cancel now ends entitlements at once; invoices exist per period", async () => {
      clock.set(START);
      const { plan, account } = await setup();
      const sub = (await h.api("POST", "/v1/subscriptions", { externalId: account.externalId, planId: plan.id, startMode: "immediate" })).body;
      const canceled = (await h.api("POST", `/v1/subscriptions/${sub.id}/cancel`, { atPeriodEnd: false })).body;
      expect(canceled.status).toBe("canceled");
      expect((await h.api("GET", `/v1/entitlements/check?accountId=${account.id}&feature=export`)).body.allowed).toBe(false);
      const invoices = (await h.api("GET", `/v1/accounts/${account.id}/invoices`)).body.items;
      expect(invoices).toHaveLength(1);
      expect(invoices[0]).toMatchObject({ amount: 2000, currency: "usd", subscriptionId: sub.id });
      const page = await fetch(invoices[0].hostedUrl);
      expect(page.status).toBe(200);
      expect(await page.text()).toContain("20.00 USD");
    });

    it("the ledger verifies after everything above (balances = ledger = lots, every lot adds up)", async () => {
      const report = await verifyLedger(h.server.server.db);
      expect(report.problems).toEqual([]);
    });
  });
}

describe.skipIf(!DATABASES.find((d) => d.kind === "postgres")?.available)("renewals with two server processes on one PostgreSQL", () => {
  it("two servers racing the same renewals grant every period exactly once", async () => {
    const database = await freshDatabase("postgres");
    const clock = new ManualClock(START);
    const a = await startTestServer({ database: database.url, clock, jobs: false });
    const b = await startTestServer({ database: database.url, clock, jobs: false });
    try {
      const { secretKey } = await a.createApp();
      const api = (m: string, p: string, body?: unknown) => call(a.url, secretKey, m, p, body);
      const plan = (await api("POST", "/v1/plans", { name: "Pro", priceAmount: 100, currency: "usd", interval: "month", credits: [{ unit: "credits", amount: 10, rollover: true }], features: [] })).body;
      const accounts: string[] = [];
      for (let i = 0; i < 5; i++) {
        const acct = (await api("POST", "/v1/accounts", { externalId: `racer_${i}` })).body;
        accounts.push(acct.id);
        expect((await api("POST", "/v1/subscriptions", { accountId: acct.id, planId: plan.id, startMode: "immediate" })).status).toBe(201);
      }
      clock.set(START + 100 * DAY); // three missed period starts each
      await Promise.all([renewOnce(a.server.db, clock), renewOnce(b.server.db, clock), renewOnce(a.server.db, clock), renewOnce(b.server.db, clock)]);
      await Promise.all([renewOnce(a.server.db, clock), renewOnce(b.server.db, clock)]);
      for (const id of accounts) {
        expect((await call(b.url, secretKey, "GET", `/v1/accounts/${id}/balance`)).body.balance).toBe(40);
      }
    } finally {
      await a.close();
      await b.close();
      await database.cleanup();
    }
  });
});

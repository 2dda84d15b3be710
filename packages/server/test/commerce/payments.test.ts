import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { verifyLedger } from "../../src/domain/verify.ts";
import { DATABASES } from "../support/databases.ts";
import { startHarness, type Harness } from "../support/http.ts";
import { stripeTestSignature } from "../../src/payments/stripe.ts";
import { ManualClock } from "../../src/domain/clock.ts";
import { renewOnce } from "../../src/jobs/renewals.ts";

const WEBHOOK_SECRET = "whsec_test_secret_for_tally";

/** A local stand-in for Stripe's API: the official library is pointed at it with host/port/protocol. */
async function startStripeStandIn(): Promise<{ url: string; requests: Array<{ path: string; body: string }>; close: () => Promise<void> }> {
  const requests: Array<{ path: string; body: string }> = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      requests.push({ path: req.url ?? "", body });
      res.setHeader("content-type", "application/json");
      if (req.method === "POST" && req.url === "/v1/checkout/sessions" && decodeURIComponent(body).includes("[currency]=zzz")) {
        res.statusCode = 400;
        res.end(JSON.stringify({ error: { type: "invalid_request_error", message: "Invalid currency: zzz", param: "line_items[0][price_data][currency]" } }));
        return;
      }
      if (req.method === "POST" && req.url === "/v1/checkout/sessions") {
        const id = `cs_test_${++n}_${Math.random().toString(36).slice(2, 8)}`;
        res.end(JSON.stringify({ id, object: "checkout.session", url: `https://checkout.stripe.test/c/pay/${id}`, payment_status: "unpaid", status: "open" }));
        return;
      }
      if (req.method === "POST" && req.url === "/v1/refunds") {
        res.end(JSON.stringify({ id: `re_${++n}`, object: "refund", status: "succeeded" }));
        return;
      }
      res.statusCode = 404;
      res.end(JSON.stringify({ error: { type: "invalid_request_error", message: "no such route" } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, requests, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

function checkoutCompleted(appId: string, orderId: string, sessionId: string): string {
  return JSON.stringify({
    id: `evt_${Math.random().toString(36).slice(2)}`, object: "event", type: "checkout.session.completed", api_version: "2025-01-27", created: Math.floor(Date.now() / 1000),
    data: { object: { id: sessionId, object: "checkout.session", client_reference_id: orderId, metadata: { tally_app_id: appId, tally_order_id: orderId }, payment_status: "paid", payment_intent: `pi_${orderId}` } },
  });
}

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`payments with the manual provider on ${kind}`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness(kind, { jobs: false });
    });
    afterAll(async () => h?.close());

    it("a free add-on is granted at once; a paid one stays pending until mark-paid, which fulfils it exactly once", async () => {
      const account = (await h.api("POST", "/v1/accounts", { externalId: "manual_1" })).body;
      const free = (await h.api("POST", "/v1/addons", { name: "Gift", unit: "credits", creditQty: 50, priceAmount: 0, currency: "usd" })).body;
      const got = await h.api("POST", `/v1/accounts/${account.id}/addons/purchase`, { addonId: free.id, idempotencyKey: "gift-1" });
      expect(got.status).toBe(200);
      expect(got.body).toMatchObject({ requiresPayment: false, creditQty: 50, order: { status: "paid" }, grant: { amount: 50 } });
      const again = await h.api("POST", `/v1/accounts/${account.id}/addons/purchase`, { addonId: free.id, idempotencyKey: "gift-1" });
      expect(again.body.order.id).toBe(got.body.order.id);

      const paid = (await h.api("POST", "/v1/addons", { name: "Pack", unit: "credits", creditQty: 1000, priceAmount: 900, currency: "usd", expiresInDays: 30 })).body;
      const pending = await h.api("POST", `/v1/accounts/${account.id}/addons/purchase`, { addonId: paid.id, idempotencyKey: "pack-1" });
      expect(pending.body).toMatchObject({ requiresPayment: true, order: { status: "pending", provider: "manual" } });
      expect(pending.body.checkoutUrl).toContain(`/checkout/${pending.body.order.id}`);
      expect((await h.api("GET", `/v1/accounts/${account.id}/balance`)).body.balance).toBe(50);
      const marks = await Promise.all([1, 2, 3].map(() => h.api("POST", `/v1/orders/${pending.body.order.id}/mark-paid`)));
      expect(marks.map((m) => m.status)).toEqual([200, 200, 200]);
      expect(marks.filter((m) => m.body.alreadyProcessed === false)).toHaveLength(1);
      expect((await h.api("GET", `/v1/accounts/${account.id}/balance`)).body.balance).toBe(1050);
      expect((await h.api("GET", `/v1/orders/${pending.body.order.id}`)).body.status).toBe("paid");
      const pools = (await h.api("GET", `/v1/accounts/${account.id}/addons/active`)).body.pools;
      expect(pools.map((p: { addonId: string; remaining: number }) => [p.addonId, p.remaining]).sort()).toEqual([[free.id, 50], [paid.id, 1000]].sort());
      const invoices = (await h.api("GET", `/v1/accounts/${account.id}/invoices`)).body.items;
      expect(invoices.map((i: { orderId: string }) => i.orderId)).toContain(pending.body.order.id);
    });

    it("refuses (400) a Stripe webhook when Stripe is not configured: no secret to verify it with, and nothing changes", async () => {
      const res = await fetch(`${h.url}/v1/payments/stripe/webhook`, {
        method: "POST",
        headers: { "content-type": "application/json", "stripe-signature": "t=1,v1=00" },
        body: JSON.stringify({ type: "checkout.session.completed", data: { object: { metadata: { tally_order_id: "ord_x" } } } }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe("VALIDATION_ERROR");
    });

    it("a refund claws back the order's credits: its own lot first, then other credits, never below zero", async () => {
      const account = (await h.api("POST", "/v1/accounts", { externalId: "clawback_1" })).body;
      const pack = (await h.api("POST", "/v1/addons", { name: "Pack", unit: "credits", creditQty: 1000, priceAmount: 900, currency: "usd" })).body;
      const order = (await h.api("POST", `/v1/accounts/${account.id}/addons/purchase`, { addonId: pack.id, idempotencyKey: "claw-1" })).body.order;
      await h.api("POST", `/v1/orders/${order.id}/mark-paid`);
      await h.api("POST", "/v1/credits/grant", { accountId: account.id, amount: 300, source: "promotional" });
      // Spends 900 of the pack (it is burned first: no expiry, same priority, older)… then refund.
      await h.api("POST", "/v1/credits/deduct", { accountId: account.id, amount: 900 });
      const res = await h.api("POST", `/v1/orders/${order.id}/refund`, { reason: "chargeback" });
      expect(res.status).toBe(200);
      expect(res.body.status).toBe("refunded");
      expect(res.body.clawback).toHaveLength(1);
      // 100 left in the pack + 300 of other credits: the order granted 1000, only 400 were left.
      expect(res.body.clawback[0]).toMatchObject({ type: "clawback", amount: -400 });
      const bal = (await h.api("GET", `/v1/accounts/${account.id}/balance`)).body;
      expect(bal).toMatchObject({ balance: 0, available: 0 });
      const again = await h.api("POST", `/v1/orders/${order.id}/refund`, {});
      expect(again.body).toMatchObject({ status: "refunded", alreadyProcessed: true });
    });

    it("the ledger verifies after everything above (balances = ledger = lots, every lot adds up)", async () => {
      const report = await verifyLedger(h.server.server.db);
      expect(report.problems).toEqual([]);
    });
  });

  describe.skipIf(!available)(`payments with Stripe (local stand-in for its API) on ${kind}`, () => {
    let h: Harness;
    let stripe: Awaited<ReturnType<typeof startStripeStandIn>>;
    const clock = new ManualClock(Date.now());
    beforeAll(async () => {
      stripe = await startStripeStandIn();
      h = await startHarness(kind, {
        clock,
        jobs: false,
        env: { TALLY_PAYMENT_PROVIDER: "stripe", STRIPE_SECRET_KEY: "sk_test_tally", STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_API_BASE: stripe.url },
      });
    });
    afterAll(async () => {
      await h?.close();
      await stripe?.close();
    });

    const webhook = (payload: string, signature: string) =>
      fetch(`${h.url}/v1/payments/stripe/webhook`, { method: "POST", headers: { "content-type": "application/json", "stripe-signature": signature }, body: payload });

    it("a checkout session is a Stripe Checkout Session; the order is found by either id", async () => {
      const account = (await h.api("POST", "/v1/accounts", { externalId: "stripe_1" })).body;
      const plan = (await h.api("POST", "/v1/plans", { name: "Pro", priceAmount: 2000, currency: "usd", interval: "month", credits: [{ unit: "credits", amount: 100 }], features: ["pro"] })).body;
      const cs = await h.api("POST", "/v1/checkout/sessions", { accountId: account.id, planId: plan.id, successUrl: "https://app.test/ok", cancelUrl: "https://app.test/no" });
      expect(cs.status).toBe(201);
      expect(cs.body.id).toMatch(/^cs_test_/);
      expect(cs.body.checkoutUrl).toBe(`https://checkout.stripe.test/c/pay/${cs.body.id}`);
      const sent = stripe.requests.find((r) => r.path === "/v1/checkout/sessions")!;
      expect(decodeURIComponent(sent.body)).toContain(`metadata[tally_order_id]=${cs.body.order.id}`);
      expect(decodeURIComponent(sent.body)).toContain("mode=subscription");
      expect((await h.api("GET", `/v1/orders/${cs.body.id}`)).body.id).toBe(cs.body.order.id);
      // Paying it (the signed webhook) starts the subscription and its entitlements.
      const payload = checkoutCompleted(h.appId, cs.body.order.id, cs.body.id);
      expect((await webhook(payload, stripeTestSignature(payload, WEBHOOK_SECRET))).status).toBe(200);
      expect((await h.api("GET", `/v1/entitlements/check?accountId=${account.id}&feature=pro`)).body.allowed).toBe(true);
      expect((await h.api("GET", `/v1/accounts/${account.id}/balance`)).body.balance).toBe(100);

      // Stripe bills the renewals: a failed payment makes it past_due (still entitled) …
      const subId = (await h.api("GET", `/v1/orders/${cs.body.order.id}`)).body.subscriptionId;
      const subEvent = (status: string) => JSON.stringify({
        id: `evt_${status}`, object: "event", type: "customer.subscription.updated", api_version: "2025-01-27", created: Math.floor(Date.now() / 1000),
        data: { object: { id: "sub_stripe_1", object: "subscription", status, metadata: { tally_app_id: h.appId, tally_order_id: cs.body.order.id } } },
      });
      const pastDue = subEvent("past_due");
      expect((await webhook(pastDue, stripeTestSignature(pastDue, WEBHOOK_SECRET))).status).toBe(200);
      expect((await h.api("GET", `/v1/subscriptions/${subId}`)).body.status).toBe("past_due");
      expect((await h.api("GET", `/v1/entitlements/check?accountId=${account.id}&feature=pro`)).body.allowed).toBe(true);
      // … and if the period ends unpaid it expires: no next period, no entitlement.
      clock.advanceMs(32 * 86_400_000);
      expect((await h.api("GET", `/v1/entitlements/check?accountId=${account.id}&feature=pro`)).body.allowed).toBe(false);
      await renewOnce(h.server.server.db, clock);
      expect((await h.api("GET", `/v1/subscriptions/${subId}`)).body.status).toBe("expired");
      expect((await h.api("GET", `/v1/accounts/${account.id}/balance`)).body.balance).toBe(0);
      clock.set(Date.now());
    });

    it("the checkout.session.completed webhook delivered five times at once fulfils the order exactly once", async () => {
      const account = (await h.api("POST", "/v1/accounts", { externalId: "stripe_2" })).body;
      const pack = (await h.api("POST", "/v1/addons", { name: "Pack", unit: "credits", creditQty: 700, priceAmount: 500, currency: "usd" })).body;
      const bought = (await h.api("POST", `/v1/accounts/${account.id}/addons/purchase`, { addonId: pack.id, idempotencyKey: "p-2" })).body;
      expect(bought.requiresPayment).toBe(true);
      const payload = checkoutCompleted(h.appId, bought.order.id, bought.order.providerRef);
      const signature = stripeTestSignature(payload, WEBHOOK_SECRET);
      const answers = await Promise.all([1, 2, 3, 4, 5].map(() => webhook(payload, signature)));
      expect(answers.map((a) => a.status)).toEqual([200, 200, 200, 200, 200]);
      const outcomes = await Promise.all(answers.map(async (a) => ((await a.json()) as { outcome: string }).outcome));
      expect(outcomes.filter((o) => o === "fulfilled")).toHaveLength(1);
      expect((await h.api("GET", `/v1/accounts/${account.id}/balance`)).body.balance).toBe(700);
      const grants = (await h.api("GET", `/v1/transactions?accountId=${account.id}`)).body.items.filter((t: { type: string }) => t.type === "grant");
      expect(grants).toHaveLength(1);

      // charge.refunded (full) claws the credits back, once.
      const refunded = JSON.stringify({
        id: "evt_refund_1", object: "event", type: "charge.refunded", api_version: "2025-01-27", created: Math.floor(Date.now() / 1000),
        data: { object: { id: "ch_1", object: "charge", refunded: true, payment_intent: `pi_${bought.order.id}`, metadata: { tally_app_id: h.appId, tally_order_id: bought.order.id } } },
      });
      const sig2 = stripeTestSignature(refunded, WEBHOOK_SECRET);
      expect((await webhook(refunded, sig2)).status).toBe(200);
      expect((await webhook(refunded, sig2)).status).toBe(200);
      expect((await h.api("GET", `/v1/orders/${bought.order.id}`)).body.status).toBe("refunded");
      expect((await h.api("GET", `/v1/accounts/${account.id}/balance`)).body.balance).toBe(0);
    });

    it("Stripe refusing the checkout is a 400 with Stripe's reason; the order stays pending and unfulfilled", async () => {
      const account = (await h.api("POST", "/v1/accounts", { externalId: "stripe_bad_currency" })).body;
      const pack = (await h.api("POST", "/v1/addons", { name: "Odd", unit: "credits", creditQty: 10, priceAmount: 500, currency: "zzz" })).body;
      const res = await h.api("POST", `/v1/accounts/${account.id}/addons/purchase`, { addonId: pack.id, idempotencyKey: "odd-1" });
      expect(res.status).toBe(400);
      expect(res.body.error.message).toContain("Invalid currency");
      expect((await h.api("GET", `/v1/accounts/${account.id}/balance`)).body.balance).toBe(0);
    });

    it("a webhook with a bad signature is 400 and changes nothing", async () => {
      const account = (await h.api("POST", "/v1/accounts", { externalId: "stripe_3" })).body;
      const pack = (await h.api("POST", "/v1/addons", { name: "Pack", unit: "credits", creditQty: 10, priceAmount: 500, currency: "usd" })).body;
      const bought = (await h.api("POST", `/v1/accounts/${account.id}/addons/purchase`, { addonId: pack.id, idempotencyKey: "p-3" })).body;
      const payload = checkoutCompleted(h.appId, bought.order.id, bought.order.providerRef);
      const forged = await webhook(payload, stripeTestSignature(payload, "whsec_wrong"));
      expect(forged.status).toBe(400);
      const tampered = await webhook(payload.replace('"paid"', '"paid" '), stripeTestSignature(payload, WEBHOOK_SECRET));
      expect(tampered.status).toBe(400);
      expect((await webhook(payload, "t=1,v1=deadbeef")).status).toBe(400);
      expect((await h.api("GET", `/v1/orders/${bought.order.id}`)).body.status).toBe("pending");
      expect((await h.api("GET", `/v1/accounts/${account.id}/balance`)).body.balance).toBe(0);
    });

    it("a purchase link opens a hosted page whose button starts a Stripe checkout; a tampered token is refused", async () => {
      const account = (await h.api("POST", "/v1/accounts", { externalId: "stripe_4" })).body;
      await h.api("POST", "/v1/addons", { name: "Link pack", unit: "credits", creditQty: 10, priceAmount: 500, currency: "usd" });
      const options = (await h.api("GET", `/v1/purchase-links?accountId=${account.id}`)).body.options;
      const option = options.find((o: { name: string }) => o.name === "Link pack");
      expect(option.url).toMatch(/\/buy\//);
      const pageRes = await fetch(option.url);
      expect(pageRes.status).toBe(200);
      expect(await pageRes.text()).toContain("Link pack");
      const start = await fetch(option.url, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
      expect(start.status).toBe(200);
      const started = (await start.json()) as { checkoutUrl: string; orderId: string };
      expect(started.checkoutUrl).toMatch(/^https:\/\/checkout\.stripe\.test\//);
      expect((await h.api("GET", `/v1/orders/${started.orderId}`)).body.accountId).toBe(account.id);
      for (const bad of [option.url.replace(/.$/, (c: string) => (c === "A" ? "B" : "A")), option.url.replace("/buy/", "/buy/x")]) {
        expect([bad, (await fetch(bad)).status]).toEqual([bad, 404]);
        expect((await fetch(bad, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" })).status).toBe(404);
      }
    });

    it("the ledger verifies after everything above (balances = ledger = lots, every lot adds up)", async () => {
      const report = await verifyLedger(h.server.server.db);
      expect(report.problems).toEqual([]);
    });
  });
}

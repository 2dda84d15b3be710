import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHmac } from "node:crypto";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { DATABASES } from "../support/databases.ts";
import { startHarness, type Harness } from "../support/http.ts";
import { ManualClock } from "../../src/domain/clock.ts";
import { deliverOnce } from "../../src/jobs/webhook-delivery.ts";
import { renewOnce } from "../../src/jobs/renewals.ts";
import { sweepOnce } from "../../src/jobs/sweeper.ts";

/** A receiver that answers 503 while `down`, and records what it accepted. */
async function startReceiver() {
  const state = { down: true, received: [] as Array<{ body: string; signature: string }> };
  const server: Server = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      if (state.down) {
        res.statusCode = 503;
        res.end("down");
        return;
      }
      state.received.push({ body, signature: String(req.headers["tally-signature"]) });
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return { state, url: `http://127.0.0.1:${port}/hook`, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`outgoing webhooks on ${kind}`, () => {
    let h: Harness;
    let receiver: Awaited<ReturnType<typeof startReceiver>>;
    const clock = new ManualClock(Date.parse("2026-04-01T00:00:00.000Z"));
    const db = () => h.server.server.db;
    beforeAll(async () => {
      receiver = await startReceiver();
      h = await startHarness(kind, { clock, jobs: false });
    });
    afterAll(async () => {
      await h?.close();
      await receiver?.close();
    });

    it("a receiver that is down loses nothing: retries back off exponentially and deliver once it is up, signed", async () => {
      const ep = await h.api("POST", "/v1/webhook-endpoints", { url: receiver.url, events: ["credits.granted", "credits.deducted", "balance.low", "order.paid"], balanceLowThreshold: 100 });
      expect(ep.status).toBe(201);
      expect(ep.body.secret).toMatch(/^whsec_/);
      expect((await h.api("GET", "/v1/webhook-endpoints")).body.items[0].secret).toBeUndefined();
      const account = (await h.api("POST", "/v1/accounts", { externalId: "hooked" })).body;
      await h.api("POST", "/v1/credits/grant", { accountId: account.id, amount: 150 });
      await h.api("POST", "/v1/credits/deduct", { accountId: account.id, amount: 60 }); // crosses 100: balance.low
      const failed = await h.api("POST", "/v1/credits/deduct", { accountId: account.id, amount: 1000 }); // 402: no event
      expect(failed.status).toBe(402);

      expect(await deliverOnce(db(), clock)).toMatchObject({ attempted: 3, delivered: 0 });
      expect(await deliverOnce(db(), clock)).toMatchObject({ attempted: 0 }); // next try in 10 s
      clock.advanceMs(10_000);
      expect(await deliverOnce(db(), clock)).toMatchObject({ attempted: 3, delivered: 0 });
      clock.advanceMs(10_000);
      expect(await deliverOnce(db(), clock)).toMatchObject({ attempted: 0 }); // then 20 s
      let deliveries = (await h.api("GET", `/v1/webhook-endpoints/${ep.body.id}/deliveries`)).body.items;
      expect(deliveries.map((d: { type: string }) => d.type)).toEqual(["credits.granted", "credits.deducted", "balance.low"]);
      expect(deliveries[0]).toMatchObject({ status: "pending", attempts: 2, lastStatusCode: 503, nextAttemptAt: "2026-04-01T00:00:30.000Z" });
      expect(deliveries[0].attemptLog.map((a: { statusCode: number }) => a.statusCode)).toEqual([503, 503]);

      receiver.state.down = false;
      clock.advanceMs(10_000);
      expect(await deliverOnce(db(), clock)).toMatchObject({ attempted: 3, delivered: 3 });
      deliveries = (await h.api("GET", `/v1/webhook-endpoints/${ep.body.id}/deliveries`)).body.items;
      expect(deliveries.every((d: { status: string }) => d.status === "delivered")).toBe(true);
      expect(receiver.state.received).toHaveLength(3);
      for (const { body, signature } of receiver.state.received) {
        const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(signature)!;
        expect(createHmac("sha256", ep.body.secret).update(`${t}.${body}`).digest("hex")).toBe(v1);
      }
      // Deliveries go out concurrently: arrival order is not event order.
      const low = receiver.state.received.map((r) => JSON.parse(r.body)).find((e) => e.type === "balance.low");
      expect(low).toMatchObject({ type: "balance.low", data: { accountId: account.id, available: 90, threshold: 100 } });
      expect(low.id).toMatch(/^evt_/);
      await h.api("DELETE", `/v1/webhook-endpoints/${ep.body.id}`);
    });

    it("gives up after 24 hours of failures, every attempt logged", async () => {
      receiver.state.down = true;
      const ep = (await h.api("POST", "/v1/webhook-endpoints", { url: receiver.url, events: ["order.paid"] })).body;
      const account = (await h.api("POST", "/v1/accounts", { externalId: "hooked_2" })).body;
      const pack = (await h.api("POST", "/v1/addons", { name: "Pack", unit: "credits", creditQty: 5, priceAmount: 100, currency: "usd" })).body;
      const order = (await h.api("POST", `/v1/accounts/${account.id}/addons/purchase`, { addonId: pack.id, idempotencyKey: "hook-order" })).body.order;
      await h.api("POST", `/v1/orders/${order.id}/mark-paid`);
      for (let i = 0; i < 60; i++) {
        await deliverOnce(db(), clock);
        clock.advanceMs(3_600_000);
      }
      const [delivery] = (await h.api("GET", `/v1/webhook-endpoints/${ep.id}/deliveries`)).body.items;
      expect(delivery).toMatchObject({ type: "order.paid", status: "failed", nextAttemptAt: null });
      expect(delivery.attempts).toBeGreaterThan(10);
      expect(delivery.attemptLog).toHaveLength(delivery.attempts);
      expect(delivery.payload.data).toMatchObject({ orderId: order.id, amount: 100 });
      await h.api("DELETE", `/v1/webhook-endpoints/${ep.id}`);
    });

    it("expiries settled by the sweeper are announced from the sweeper's own transaction", async () => {
      receiver.state.down = false;
      receiver.state.received.length = 0;
      const ep = (await h.api("POST", "/v1/webhook-endpoints", { url: receiver.url, events: ["credits.expired", "reservation.expired"] })).body;
      const account = (await h.api("POST", "/v1/accounts", { externalId: "hooked_exp" })).body;
      await h.api("POST", "/v1/credits/grant", { accountId: account.id, amount: 30, expiresAt: new Date(clock.nowMs() + 60_000).toISOString() });
      await h.api("POST", "/v1/reservations", { accountId: account.id, amount: 10, ttlSeconds: 30 });
      clock.advanceMs(120_000);
      await sweepOnce(db(), clock);
      await deliverOnce(db(), clock);
      const types = receiver.state.received.map((r) => JSON.parse(r.body).type).sort();
      expect(types).toEqual(["credits.expired", "reservation.expired"]);
      await h.api("DELETE", `/v1/webhook-endpoints/${ep.id}`);
    });

    it("balance.low uses the account's metadata threshold when the endpoint has none", async () => {
      receiver.state.down = false;
      receiver.state.received.length = 0;
      const ep = (await h.api("POST", "/v1/webhook-endpoints", { url: receiver.url, events: ["balance.low"] })).body;
      const account = (await h.api("POST", "/v1/accounts", { externalId: "hooked_low", metadata: { balanceLowThreshold: "50" } })).body;
      const plain = (await h.api("POST", "/v1/accounts", { externalId: "hooked_plain" })).body;
      for (const a of [account, plain]) {
        await h.api("POST", "/v1/credits/grant", { accountId: a.id, amount: 100 });
        await h.api("POST", "/v1/credits/deduct", { accountId: a.id, amount: 40 }); // 60: not yet
        await h.api("POST", "/v1/credits/deduct", { accountId: a.id, amount: 20 }); // 40: crossed 50
        await h.api("POST", "/v1/credits/deduct", { accountId: a.id, amount: 20 }); // still low: no repeat
      }
      await deliverOnce(db(), clock);
      expect(receiver.state.received.map((r) => JSON.parse(r.body))).toEqual([
        expect.objectContaining({ type: "balance.low", data: { accountId: account.id, unit: "credits", available: 40, threshold: 50 } }),
      ]);
      await h.api("DELETE", `/v1/webhook-endpoints/${ep.id}`);
    });

    it("an endpoint subscribed to every event (*) gets balance.low too", async () => {
      receiver.state.down = false;
      receiver.state.received.length = 0;
      const ep = (await h.api("POST", "/v1/webhook-endpoints", { url: receiver.url, events: ["*"], balanceLowThreshold: 10 })).body;
      const account = (await h.api("POST", "/v1/accounts", { externalId: "hooked_star" })).body;
      try {
        await h.api("POST", "/v1/credits/grant", { accountId: account.id, amount: 15 });
        await h.api("POST", "/v1/credits/deduct", { accountId: account.id, amount: 10 }); // 5: crossed 10
        await deliverOnce(db(), clock);
        // Deliveries go out side by side: their arrival order is not the events' order.
        expect(receiver.state.received.map((r) => JSON.parse(r.body).type).sort()).toEqual(["balance.low", "credits.deducted", "credits.granted"]);
      } finally {
        await h.api("DELETE", `/v1/webhook-endpoints/${ep.id}`);
      }
    });

    it("subscription renewals and cancellations are announced; an application without endpoints writes no outbox rows", async () => {
      receiver.state.down = false;
      receiver.state.received.length = 0;
      await h.api("POST", "/v1/webhook-endpoints", { url: receiver.url, events: ["subscription.renewed", "subscription.canceled"] });
      const account = (await h.api("POST", "/v1/accounts", { externalId: "hooked_3" })).body;
      const plan = (await h.api("POST", "/v1/plans", { name: "M", priceAmount: 0, currency: "usd", interval: "month", credits: [{ unit: "credits", amount: 5 }], features: [] })).body;
      const sub = (await h.api("POST", "/v1/subscriptions", { accountId: account.id, planId: plan.id, startMode: "immediate" })).body;
      await h.api("POST", `/v1/subscriptions/${sub.id}/cancel`, {});
      clock.advanceMs(32 * 86_400_000);
      await renewOnce(db(), clock);
      await deliverOnce(db(), clock);
      expect(receiver.state.received.map((r) => JSON.parse(r.body).type)).toEqual(["subscription.canceled"]);

      const other = await h.server.createApp("quiet");
      const count = async () => Number((await db().read((q) => q.get<{ n: number }>("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE app_id = ?", [other.appId])))!.n);
      const res = await fetch(`${h.url}/v1/credits/grant`, { method: "POST", headers: { authorization: `Bearer ${other.secretKey}`, "content-type": "application/json" }, body: JSON.stringify({ externalId: "q", amount: 5 }) });
      expect(res.status).toBe(201);
      expect(await count()).toBe(0);
    });
  });
}

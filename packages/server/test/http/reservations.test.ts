import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES } from "../support/databases.ts";
import { startHarness, type Harness } from "../support/http.ts";
import { ManualClock } from "../../src/domain/clock.ts";
import { sweepOnce } from "../../src/jobs/sweeper.ts";
import { expectError, expectStatus, uid } from "./expect.ts";

const UNKNOWN_RSV = "rsv_01JZZZZZZZZZZZZZZZZZZZZZZZ";

/**
 * Reservations on a clock moved by hand and with background jobs off, so every expiry below is
 * counted by the request path alone (never by a sweeper that happened to run).
 */
for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`reservations over HTTP on ${kind}`, () => {
    let h: Harness;
    const clock = new ManualClock(Date.parse("2026-03-01T12:00:00.000Z"));
    beforeAll(async () => {
      h = await startHarness(kind, { clock, jobs: false });
    });
    afterAll(async () => h?.close());

    async function funded(amount: number): Promise<string> {
      const g = await h.api("POST", "/v1/credits/grant", { externalId: uid("r"), amount });
      expectStatus(g, 201);
      return g.body.transaction.accountId;
    }
    const balanceOf = async (accountId: string) => (await h.api("GET", `/v1/accounts/${accountId}/balance`)).body;
    async function hold(accountId: string, amount: number, extra: Record<string, unknown> = {}) {
      const res = await h.api("POST", "/v1/reservations", { accountId, amount, ...extra });
      expectStatus(res, 201);
      return res.body;
    }

    describe("POST /v1/reservations", () => {
      it("holds credits (201) with the default 600 s TTL and moves them from available to reserved", async () => {
        const accountId = await funded(100);
        const res = await h.api("POST", "/v1/reservations", { accountId, amount: 40, operation: "llm.stream", reference: "turn-1", metadata: { model: "m" } });
        expectStatus(res, 201);
        expect(res.body).toMatchObject({
          accountId,
          unit: "credits",
          amount: 40,
          capturedAmount: 0,
          status: "held",
          confirmedAmount: null,
          transactionId: null,
          operation: "llm.stream",
          reference: "turn-1",
          metadata: { model: "m" },
          expiresAt: new Date(clock.nowMs() + 600_000).toISOString(),
          createdAt: new Date(clock.nowMs()).toISOString(),
        });
        expect(res.body.id).toMatch(/^rsv_/);
        expect(await balanceOf(accountId)).toMatchObject({ balance: 100, reserved: 40, available: 60 });
        const read = await h.api("GET", `/v1/reservations/${res.body.id}`);
        expectStatus(read, 200);
        expect(read.body).toMatchObject({ id: res.body.id, status: "held", amount: 40 });
      });

      it("answers 402 INSUFFICIENT_CREDITS when available credits are short, counting other holds", async () => {
        const accountId = await funded(50);
        await hold(accountId, 30);
        const res = await h.api("POST", "/v1/reservations", { accountId, amount: 21 });
        expectError(res, 402, "INSUFFICIENT_CREDITS");
        expect(res.body.error.details).toEqual({ available: 20, required: 21, unit: "credits" });
        expect(await balanceOf(accountId)).toMatchObject({ balance: 50, reserved: 30, available: 20 });
      });

      it("dryRun answers 200 and holds nothing", async () => {
        const accountId = await funded(10);
        const dry = await h.api("POST", "/v1/reservations", { accountId, amount: 8, dryRun: true });
        expectStatus(dry, 200);
        expect(dry.body).toMatchObject({ dryRun: true, wouldSucceed: true, balance: { reserved: 0, available: 10 } });
        const short = await h.api("POST", "/v1/reservations", { accountId, amount: 11, dryRun: true });
        expect(short.body).toMatchObject({ dryRun: true, wouldSucceed: false });
        expect(await balanceOf(accountId)).toMatchObject({ reserved: 0, available: 10 });
        const list = await h.api("GET", `/v1/reservations?accountId=${accountId}`);
        expect(list.body.items).toEqual([]);
      });

      it("validates ttlSeconds (1 … 7 days), the account reference and the amount", async () => {
        const accountId = await funded(10);
        expectError(await h.api("POST", "/v1/reservations", { accountId, amount: 1, ttlSeconds: 0 }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/reservations", { accountId, amount: 1, ttlSeconds: 7 * 86_400 + 1 }), 400, "VALIDATION_ERROR");
        expectStatus(await h.api("POST", "/v1/reservations", { accountId, amount: 1, ttlSeconds: 7 * 86_400 }), 201);
        expectError(await h.api("POST", "/v1/reservations", { accountId, externalId: "x", amount: 1 }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/reservations", { accountId }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/reservations", { accountId, amount: 0 }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/reservations", { accountId: "acct_01JZZZZZZZZZZZZZZZZZZZZZZZ", amount: 1 }), 404, "ACCOUNT_NOT_FOUND");
        expectError(await h.api("POST", "/v1/reservations", { externalId: uid("nobody"), amount: 1 }), 404, "ACCOUNT_NOT_FOUND");
      });
    });

    describe("confirm", () => {
      it("confirming less spends that much and releases the rest", async () => {
        const accountId = await funded(100);
        const r = await hold(accountId, 50);
        const res = await h.api("POST", `/v1/reservations/${r.id}/confirm`, { amount: 30, description: "actual" });
        expectStatus(res, 200);
        expect(res.body.reservation).toMatchObject({ id: r.id, status: "confirmed", confirmedAmount: 30, transactionId: res.body.transaction.id });
        expect(res.body.transaction).toMatchObject({ type: "reservation_confirm", amount: -30, reservationId: r.id, balanceAfter: 70 });
        expect(res.body.balance).toMatchObject({ balance: 70, reserved: 0, available: 70 });
      });

      it("confirming with no amount spends exactly the reserved amount", async () => {
        const accountId = await funded(100);
        const r = await hold(accountId, 25);
        const res = await h.api("POST", `/v1/reservations/${r.id}/confirm`);
        expectStatus(res, 200);
        expect(res.body.reservation).toMatchObject({ status: "confirmed", confirmedAmount: 25 });
        expect(res.body.transaction.amount).toBe(-25);
        expect(res.body.balance).toMatchObject({ balance: 75, reserved: 0 });
      });

      it("confirming more than reserved succeeds when the extra is available", async () => {
        const accountId = await funded(100);
        const r = await hold(accountId, 10);
        const res = await h.api("POST", `/v1/reservations/${r.id}/confirm`, { amount: 25 });
        expectStatus(res, 200);
        expect(res.body.reservation).toMatchObject({ status: "confirmed", confirmedAmount: 25 });
        expect(res.body.balance).toMatchObject({ balance: 75, reserved: 0, available: 75 });
      });

      it("confirming more than is available answers 402 and the reservation stays held as it was", async () => {
        const accountId = await funded(30);
        const r = await hold(accountId, 20);
        const res = await h.api("POST", `/v1/reservations/${r.id}/confirm`, { amount: 31 });
        expectError(res, 402, "INSUFFICIENT_CREDITS");
        expect(res.body.error.details).toMatchObject({ unit: "credits" });
        const read = await h.api("GET", `/v1/reservations/${r.id}`);
        expect(read.body).toMatchObject({ status: "held", amount: 20, capturedAmount: 0, confirmedAmount: null });
        expect(await balanceOf(accountId)).toMatchObject({ balance: 30, reserved: 20, available: 10 });
        // The hold still works afterwards.
        const ok = await h.api("POST", `/v1/reservations/${r.id}/confirm`, { amount: 30 });
        expectStatus(ok, 200);
        expect(ok.body.balance).toMatchObject({ balance: 0, reserved: 0 });
      });
    });

    describe("cancel, capture and extend", () => {
      it("cancel releases every held credit and records no spend", async () => {
        const accountId = await funded(60);
        const r = await hold(accountId, 45);
        const res = await h.api("POST", `/v1/reservations/${r.id}/cancel`, { reason: "user stopped" });
        expectStatus(res, 200);
        expect(res.body.reservation).toMatchObject({ status: "canceled", transactionId: null });
        expect(res.body).not.toHaveProperty("transaction");
        expect(res.body.balance).toMatchObject({ balance: 60, reserved: 0, available: 60 });
        const txns = await h.api("GET", `/v1/transactions?accountId=${accountId}`);
        expect(txns.body.items.map((t: { type: string }) => t.type)).toEqual(["grant"]);
      });

      it("captures settle part of a hold while it stays held, and confirm settles the total including captures", async () => {
        const accountId = await funded(100);
        const r = await hold(accountId, 50);
        const c1 = await h.api("POST", `/v1/reservations/${r.id}/capture`, { amount: 10 });
        expectStatus(c1, 200);
        expect(c1.body.reservation).toMatchObject({ status: "held", capturedAmount: 10 });
        expect(c1.body.transaction).toMatchObject({ type: "reservation_capture", amount: -10, reservationId: r.id });
        expect(c1.body.balance).toMatchObject({ balance: 90, reserved: 40, available: 50 });
        const c2 = await h.api("POST", `/v1/reservations/${r.id}/capture`, { amount: 15 });
        expect(c2.body.reservation.capturedAmount).toBe(25);
        expect(c2.body.balance).toMatchObject({ balance: 75, reserved: 25 });

        expectError(await h.api("POST", `/v1/reservations/${r.id}/confirm`, { amount: 20 }), 400, "VALIDATION_ERROR");

        const done = await h.api("POST", `/v1/reservations/${r.id}/confirm`, { amount: 30 });
        expectStatus(done, 200);
        expect(done.body.reservation).toMatchObject({ status: "confirmed", confirmedAmount: 30, capturedAmount: 25 });
        expect(done.body.transaction.amount).toBe(-5);
        expect(done.body.balance).toMatchObject({ balance: 70, reserved: 0, available: 70 });
      });

      it("a confirmed spend can be refunded, up to what was confirmed", async () => {
        const accountId = await funded(40);
        const r = await hold(accountId, 30);
        const done = await h.api("POST", `/v1/reservations/${r.id}/confirm`, { amount: 25 });
        const refund = await h.api("POST", "/v1/credits/refund", { transactionId: done.body.transaction.id, amount: 10 });
        expectStatus(refund, 201);
        expect(refund.body.transaction).toMatchObject({ type: "refund", amount: 10, reservationId: r.id, refundOf: done.body.transaction.id });
        expectError(await h.api("POST", "/v1/credits/refund", { transactionId: done.body.transaction.id, amount: 16 }), 409, "REFUND_EXCEEDS_ORIGINAL");
        expect(await balanceOf(accountId)).toMatchObject({ balance: 25, reserved: 0 });
      });

      it("capture beyond the hold spends available credits, and 402 when they are short", async () => {
        const accountId = await funded(20);
        const r = await hold(accountId, 10);
        expectError(await h.api("POST", `/v1/reservations/${r.id}/capture`, { amount: 21 }), 402, "INSUFFICIENT_CREDITS");
        const read = await h.api("GET", `/v1/reservations/${r.id}`);
        expect(read.body).toMatchObject({ status: "held", capturedAmount: 0 });
        expectError(await h.api("POST", `/v1/reservations/${r.id}/capture`, {}), 400, "VALIDATION_ERROR");
      });

      it("extend moves expiresAt to ttlSeconds from now and never earlier", async () => {
        const accountId = await funded(10);
        const r = await hold(accountId, 5, { ttlSeconds: 60 });
        const later = await h.api("POST", `/v1/reservations/${r.id}/extend`, { ttlSeconds: 3600 });
        expectStatus(later, 200);
        expect(later.body).toMatchObject({ id: r.id, status: "held", expiresAt: new Date(clock.nowMs() + 3_600_000).toISOString() });
        const shorter = await h.api("POST", `/v1/reservations/${r.id}/extend`, { ttlSeconds: 10 });
        expectStatus(shorter, 200);
        expect(shorter.body.expiresAt).toBe(later.body.expiresAt);
        expectError(await h.api("POST", `/v1/reservations/${r.id}/extend`, {}), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", `/v1/reservations/${r.id}/extend`, { ttlSeconds: 7 * 86_400 + 1 }), 400, "VALIDATION_ERROR");
      });
    });

    describe("resolved holds", () => {
      it("answers 409 RESERVATION_NOT_HELD for confirm, cancel, capture or extend of a confirmed or canceled hold", async () => {
        const accountId = await funded(100);
        const confirmed = await hold(accountId, 10);
        expectStatus(await h.api("POST", `/v1/reservations/${confirmed.id}/confirm`, {}), 200);
        const canceled = await hold(accountId, 10);
        expectStatus(await h.api("POST", `/v1/reservations/${canceled.id}/cancel`, {}), 200);
        for (const id of [confirmed.id, canceled.id]) {
          const res = await h.api("POST", `/v1/reservations/${id}/confirm`, {});
          expectError(res, 409, "RESERVATION_NOT_HELD");
          expect(res.body.error.details).toMatchObject({ reservationId: id });
          expectError(await h.api("POST", `/v1/reservations/${id}/cancel`, {}), 409, "RESERVATION_NOT_HELD");
          expectError(await h.api("POST", `/v1/reservations/${id}/capture`, { amount: 1 }), 409, "RESERVATION_NOT_HELD");
          expectError(await h.api("POST", `/v1/reservations/${id}/extend`, { ttlSeconds: 60 }), 409, "RESERVATION_NOT_HELD");
        }
        expect(await balanceOf(accountId)).toMatchObject({ balance: 90, reserved: 0 });
      });

      it("replays the first outcome for a repeat with the same idempotency key (body key), and 409 for a different key", async () => {
        const accountId = await funded(100);
        const r = await hold(accountId, 20);
        const key = uid("confirm");
        const first = await h.api("POST", `/v1/reservations/${r.id}/confirm`, { amount: 15, idempotencyKey: key });
        expectStatus(first, 200);
        const again = await h.api("POST", `/v1/reservations/${r.id}/confirm`, { amount: 15, idempotencyKey: key });
        expectStatus(again, 200);
        expect(again.body.alreadyProcessed).toBe(true);
        expect(again.body.reservation).toEqual(first.body.reservation);
        expect(again.body.transaction).toEqual(first.body.transaction);
        expectError(await h.api("POST", `/v1/reservations/${r.id}/confirm`, { amount: 15, idempotencyKey: uid("other") }), 409, "RESERVATION_NOT_HELD");
        expectError(await h.api("POST", `/v1/reservations/${r.id}/cancel`, { idempotencyKey: key }), 409, "RESERVATION_NOT_HELD");

        const c = await hold(accountId, 5);
        const cancelKey = uid("cancel");
        expectStatus(await h.api("POST", `/v1/reservations/${c.id}/cancel`, { idempotencyKey: cancelKey }), 200);
        // The body key is permanent: it still replays long after the 24 h header window.
        clock.advanceMs(25 * 3_600_000);
        const replay = await h.api("POST", `/v1/reservations/${c.id}/cancel`, { idempotencyKey: cancelKey });
        expectStatus(replay, 200);
        expect(replay.body).toMatchObject({ alreadyProcessed: true, reservation: { id: c.id, status: "canceled" } });
        expect(await balanceOf(accountId)).toMatchObject({ balance: 85, reserved: 0 });
      });

      it("answers 409 IDEMPOTENCY_KEY_REUSED for a confirm or capture whose key another transaction already used, and the hold stays held", async () => {
        const accountId = await funded(50);
        const key = uid("ledger");
        expectStatus(await h.api("POST", "/v1/credits/deduct", { accountId, amount: 1, idempotencyKey: key }), 201);
        const r = await hold(accountId, 5);
        expectError(await h.api("POST", `/v1/reservations/${r.id}/confirm`, { idempotencyKey: key }), 409, "IDEMPOTENCY_KEY_REUSED");
        expectError(await h.api("POST", `/v1/reservations/${r.id}/capture`, { amount: 1, idempotencyKey: key }), 409, "IDEMPOTENCY_KEY_REUSED");
        const read = await h.api("GET", `/v1/reservations/${r.id}`);
        expect(read.body).toMatchObject({ status: "held", capturedAmount: 0 });
        expect(await balanceOf(accountId)).toMatchObject({ balance: 49, reserved: 5 });
      });

      it("replays a confirm sent again with the same Idempotency-Key header byte for byte", async () => {
        const accountId = await funded(10);
        const r = await hold(accountId, 4);
        const headers = { "idempotency-key": uid("hdr") };
        const first = await h.api("POST", `/v1/reservations/${r.id}/confirm`, {}, headers);
        expectStatus(first, 200);
        const again = await h.api("POST", `/v1/reservations/${r.id}/confirm`, {}, headers);
        expectStatus(again, 200);
        expect(again.headers.get("idempotent-replayed")).toBe("true");
        expect(again.text).toBe(first.text);
        expect(await balanceOf(accountId)).toMatchObject({ balance: 6, reserved: 0 });
      });

      it("answers 404 RESERVATION_NOT_FOUND for unknown ids on every reservation route", async () => {
        expectError(await h.api("GET", `/v1/reservations/${UNKNOWN_RSV}`), 404, "RESERVATION_NOT_FOUND");
        expectError(await h.api("POST", `/v1/reservations/${UNKNOWN_RSV}/confirm`, {}), 404, "RESERVATION_NOT_FOUND");
        expectError(await h.api("POST", `/v1/reservations/${UNKNOWN_RSV}/cancel`, {}), 404, "RESERVATION_NOT_FOUND");
        expectError(await h.api("POST", `/v1/reservations/${UNKNOWN_RSV}/capture`, { amount: 1 }), 404, "RESERVATION_NOT_FOUND");
        expectError(await h.api("POST", `/v1/reservations/${UNKNOWN_RSV}/extend`, { ttlSeconds: 1 }), 404, "RESERVATION_NOT_FOUND");
      });
    });

    describe("GET /v1/reservations", () => {
      it("lists an account's reservations newest first, filters by status and pages with a cursor", async () => {
        const accountId = await funded(100);
        const a = await hold(accountId, 1);
        const b = await hold(accountId, 2);
        const c = await hold(accountId, 3);
        await h.api("POST", `/v1/reservations/${b.id}/cancel`, {});
        await h.api("POST", `/v1/reservations/${c.id}/confirm`, {});
        const all = await h.api("GET", `/v1/reservations?accountId=${accountId}`);
        expectStatus(all, 200);
        expect(all.body.items.map((r: { id: string }) => r.id)).toEqual([c.id, b.id, a.id]);
        const held = await h.api("GET", `/v1/reservations?accountId=${accountId}&status=held`);
        expect(held.body.items.map((r: { id: string }) => r.id)).toEqual([a.id]);
        const canceled = await h.api("GET", `/v1/reservations?accountId=${accountId}&status=canceled`);
        expect(canceled.body.items.map((r: { id: string }) => r.id)).toEqual([b.id]);
        const confirmed = await h.api("GET", `/v1/reservations?accountId=${accountId}&status=confirmed`);
        expect(confirmed.body.items.map((r: { id: string }) => r.id)).toEqual([c.id]);
        const p1 = await h.api("GET", `/v1/reservations?accountId=${accountId}&limit=2`);
        expect(p1.body).toMatchObject({ hasMore: true });
        const p2 = await h.api("GET", `/v1/reservations?accountId=${accountId}&limit=2&cursor=${p1.body.nextCursor}`);
        expect(p2.body).toMatchObject({ hasMore: false, nextCursor: null });
        expect(p2.body.items.map((r: { id: string }) => r.id)).toEqual([a.id]);
        expectError(await h.api("GET", `/v1/reservations?status=pending`), 400, "VALIDATION_ERROR");
        expectError(await h.api("GET", `/v1/reservations?limit=101`), 400, "VALIDATION_ERROR");
      });
    });

    describe("expiry at expiresAt, before any sweeper", () => {
      it("a lot stops counting at exactly its expiresAt and an expiry transaction records what was lost", async () => {
        const externalId = uid("exp");
        const expiresAt = clock.nowMs() + 3_600_000;
        const lot = await h.api("POST", "/v1/credits/grant", { externalId, amount: 100, expiresAt: new Date(expiresAt).toISOString() });
        const accountId: string = lot.body.transaction.accountId;
        await h.api("POST", "/v1/credits/grant", { accountId, amount: 20 });
        expectStatus(await h.api("POST", "/v1/credits/deduct", { accountId, amount: 30 }), 201);

        clock.set(expiresAt - 1);
        expect(await balanceOf(accountId)).toMatchObject({ balance: 90, available: 90, expiringNext: { amount: 70 } });
        clock.set(expiresAt);
        const after = await balanceOf(accountId);
        expect(after).toMatchObject({ balance: 20, reserved: 0, available: 20 });
        expect(after).not.toHaveProperty("expiringNext");

        const expiries = await h.api("GET", `/v1/transactions?accountId=${accountId}&type=expiry`);
        expect(expiries.body.items).toHaveLength(1);
        expect(expiries.body.items[0]).toMatchObject({ type: "expiry", amount: -70, balanceAfter: 20, grantId: lot.body.grant.id });
        const grants = await h.api("GET", `/v1/accounts/${accountId}/grants?unit=credits`);
        const expired = grants.body.items.find((g: { id: string }) => g.id === lot.body.grant.id);
        expect(expired).toMatchObject({ remaining: 0, consumed: 30, expired: 70 });
        const active = await h.api("GET", `/v1/accounts/${accountId}/grants?active=true`);
        expect(active.body.items.map((g: { id: string }) => g.id)).not.toContain(lot.body.grant.id);

        // A spend right at expiry cannot use the expired credits.
        const short = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 21 });
        expectError(short, 402, "INSUFFICIENT_CREDITS");
        expect(short.body.error.details).toMatchObject({ available: 20, required: 21 });
        // Reading again never expires twice.
        await balanceOf(accountId);
        const again = await h.api("GET", `/v1/transactions?accountId=${accountId}&type=expiry`);
        expect(again.body.items).toHaveLength(1);
      });

      it("a deduct is the first to notice an expiry and cannot spend the expired credits", async () => {
        const expiresAt = clock.nowMs() + 1000;
        const g = await h.api("POST", "/v1/credits/grant", { externalId: uid("exp"), amount: 10, expiresAt: new Date(expiresAt).toISOString() });
        const accountId: string = g.body.transaction.accountId;
        clock.set(expiresAt);
        const res = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 1 });
        expectError(res, 402, "INSUFFICIENT_CREDITS");
        expect(res.body.error.details).toMatchObject({ available: 0 });
        expect(await balanceOf(accountId)).toMatchObject({ balance: 0 });
        const expiries = await h.api("GET", `/v1/transactions?accountId=${accountId}&type=expiry`);
        expect(expiries.body.items.map((t: { amount: number }) => t.amount)).toEqual([-10]);
      });

      it("a hold past its expiresAt reads as expired and releases its credits; confirm and cancel then answer 409 RESERVATION_EXPIRED", async () => {
        const accountId = await funded(50);
        const r = await hold(accountId, 40, { ttlSeconds: 60 });
        clock.advanceMs(59_999);
        expect(await balanceOf(accountId)).toMatchObject({ reserved: 40, available: 10 });
        clock.advanceMs(1);
        const listed = await h.api("GET", `/v1/reservations?accountId=${accountId}&status=held`);
        expect(listed.body.items).toEqual([]);
        const listedAll = await h.api("GET", `/v1/reservations?accountId=${accountId}`);
        expect(listedAll.body.items[0]).toMatchObject({ id: r.id, status: "expired" });
        const read = await h.api("GET", `/v1/reservations/${r.id}`);
        expect(read.body).toMatchObject({ status: "expired", confirmedAmount: null });
        expect(await balanceOf(accountId)).toMatchObject({ balance: 50, reserved: 0, available: 50 });
        const expiredList = await h.api("GET", `/v1/reservations?accountId=${accountId}&status=expired`);
        expect(expiredList.body.items.map((x: { id: string }) => x.id)).toEqual([r.id]);

        const confirm = await h.api("POST", `/v1/reservations/${r.id}/confirm`, {});
        expectError(confirm, 409, "RESERVATION_EXPIRED");
        expectError(await h.api("POST", `/v1/reservations/${r.id}/cancel`, {}), 409, "RESERVATION_EXPIRED");
        expectError(await h.api("POST", `/v1/reservations/${r.id}/capture`, { amount: 1 }), 409, "RESERVATION_EXPIRED");
        expectError(await h.api("POST", `/v1/reservations/${r.id}/extend`, { ttlSeconds: 60 }), 409, "RESERVATION_EXPIRED");
      });

      it("a confirm arriving after expiresAt, before anything else noticed, answers 409 RESERVATION_EXPIRED and spends nothing", async () => {
        const accountId = await funded(20);
        const r = await hold(accountId, 20, { ttlSeconds: 5 });
        clock.advanceMs(5_000);
        expectError(await h.api("POST", `/v1/reservations/${r.id}/confirm`, { amount: 5 }), 409, "RESERVATION_EXPIRED");
        expect(await balanceOf(accountId)).toMatchObject({ balance: 20, reserved: 0, available: 20 });
      });

      it("when a hold with captures expires, what was captured stays charged and only the rest is released", async () => {
        const accountId = await funded(100);
        const r = await hold(accountId, 30, { ttlSeconds: 10 });
        expectStatus(await h.api("POST", `/v1/reservations/${r.id}/capture`, { amount: 12 }), 200);
        clock.advanceMs(10_000);
        const read = await h.api("GET", `/v1/reservations/${r.id}`);
        expect(read.body).toMatchObject({ status: "expired", capturedAmount: 12 });
        expect(await balanceOf(accountId)).toMatchObject({ balance: 88, reserved: 0, available: 88 });
      });

      it("credits held from a lot that expires meanwhile are lost when the hold is released", async () => {
        const lotExpiry = clock.nowMs() + 30_000;
        const g = await h.api("POST", "/v1/credits/grant", { externalId: uid("exp"), amount: 50, expiresAt: new Date(lotExpiry).toISOString() });
        const accountId: string = g.body.transaction.accountId;
        const r = await hold(accountId, 50, { ttlSeconds: 60 });
        clock.set(lotExpiry);
        expect(await balanceOf(accountId)).toMatchObject({ balance: 50, reserved: 50, available: 0 });
        const canceled = await h.api("POST", `/v1/reservations/${r.id}/cancel`, {});
        expectStatus(canceled, 200);
        expect(canceled.body.balance).toMatchObject({ balance: 0, reserved: 0, available: 0 });
        const expiries = await h.api("GET", `/v1/transactions?accountId=${accountId}&type=expiry`);
        expect(expiries.body.items.map((t: { amount: number }) => t.amount)).toEqual([-50]);
      });

      it("a refund after the paying lot expired does not revive it: the credits come back as a new refund lot", async () => {
        const expiresAt = clock.nowMs() + 10_000;
        const g = await h.api("POST", "/v1/credits/grant", { externalId: uid("exp"), amount: 10, expiresAt: new Date(expiresAt).toISOString() });
        const accountId: string = g.body.transaction.accountId;
        const d = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 6 });
        clock.set(expiresAt);
        expect(await balanceOf(accountId)).toMatchObject({ balance: 0 });
        const r = await h.api("POST", "/v1/credits/refund", { transactionId: d.body.transaction.id, amount: 4 });
        expectStatus(r, 201);
        expect(r.body.transaction).toMatchObject({ type: "refund", amount: 4, balanceAfter: 4 });
        expect(r.body.transaction.grantId).toMatch(/^grt_/);
        expect(r.body.transaction.grantId).not.toBe(g.body.grant.id);
        const lots = await h.api("GET", `/v1/accounts/${accountId}/grants?active=true`);
        expect(lots.body.items).toEqual([expect.objectContaining({ id: r.body.transaction.grantId, source: "refund", amount: 4, remaining: 4, expiresAt: null })]);
        const old = await h.api("GET", `/v1/accounts/${accountId}/grants`);
        expect(old.body.items.find((l: { id: string }) => l.id === g.body.grant.id)).toMatchObject({ remaining: 0, consumed: 6, expired: 4 });
        expect(await balanceOf(accountId)).toMatchObject({ balance: 4, available: 4 });
      });

      it("the sweeper records due expiries without any request touching the account", async () => {
        const expiresAt = clock.nowMs() + 1_000;
        const g = await h.api("POST", "/v1/credits/grant", { externalId: uid("sweep"), amount: 9, expiresAt: new Date(expiresAt).toISOString() });
        const accountId: string = g.body.transaction.accountId;
        const r = await hold(accountId, 4, { ttlSeconds: 1 });
        clock.set(expiresAt);
        const none = await h.api("GET", `/v1/transactions?accountId=${accountId}&type=expiry`);
        expect(none.body.items).toEqual([]);
        const swept = await sweepOnce(h.server.server.db, clock);
        expect(swept.settled).toBeGreaterThanOrEqual(1);
        const expiries = await h.api("GET", `/v1/transactions?accountId=${accountId}&type=expiry`);
        expect(expiries.body.items.map((t: { amount: number }) => t.amount)).toEqual([-9]);
        const rows = await h.api("GET", `/v1/reservations?accountId=${accountId}&status=expired`);
        expect(rows.body.items.map((x: { id: string }) => x.id)).toEqual([r.id]);
      });
    });
  });
}

import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { DATABASES, freshDatabase } from "../support/databases.ts";
import { openDatabase } from "../../src/store/open.ts";
import { migrate } from "../../src/store/migrate.ts";
import type { Database } from "../../src/store/sql.ts";
import { ManualClock } from "../../src/domain/clock.ts";
import type { Scope } from "../../src/domain/context.ts";
import { createApp } from "../../src/domain/apps.ts";
import { createAccount } from "../../src/domain/accounts.ts";
import { grant, deduct, refund, type DeductResult } from "../../src/domain/credits.ts";
import { cancel, capture, confirm, extend, getReservation, reserve, type ReservationOutcome } from "../../src/domain/reservations.ts";
import { readBalance } from "../../src/domain/balances.ts";
import { verifyLedger } from "../../src/domain/verify.ts";
import { TallyError } from "../../src/domain/errors.ts";
import { sweepOnce } from "../../src/jobs/sweeper.ts";
import type { LedgerEvent } from "../../src/domain/unit-ledger.ts";

/**
 * The reservation state machine through the domain functions, on a real database:
 * held → confirmed | canceled | expired, each at most once.
 *
 * About time (issue 7, item 5): expiry is decided by the Scope's injected `Clock`, read once at
 * the start of each database transaction. In production that clock is the server's wall time
 * (`systemClock`, i.e. Date.now()); every process sharing a PostgreSQL database uses its own, so
 * hosts are expected to run NTP. A hold's `expiresAt` is an absolute instant fixed when it is
 * created (now + ttl) and only `extend` moves it, never earlier. Hence:
 *  - the clock stepping BACKWARDS never expires anything: holds stay held until the clock again
 *    reaches their `expiresAt` (they live longer in real time, never shorter);
 *  - the clock stepping FORWARDS short of `expiresAt` changes nothing;
 *  - the clock stepping forwards PAST `expiresAt` expires the hold, as the contract says: it
 *    counts as released as soon as "now" ≥ expiresAt. That is the only way a hold can end sooner
 *    in real elapsed time than its ttl, and it needs the host's wall clock to jump ahead.
 * The tests below pin exactly this: never before the clock reads `expiresAt`, always from then on.
 */

const T0 = Date.parse("2026-03-01T12:00:00.000Z");

async function fails(promise: Promise<unknown>): Promise<TallyError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof TallyError) return error;
    throw error;
  }
  throw new Error("expected a TallyError, but the call succeeded");
}

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`reservation state machine on ${kind}`, () => {
    let db: Database;
    let cleanup: () => Promise<void>;
    let clock: ManualClock;
    let scope: Scope;
    let accountId: string;
    const events: LedgerEvent[] = [];

    beforeAll(async () => {
      const fresh = await freshDatabase(kind);
      cleanup = fresh.cleanup;
      db = openDatabase(fresh.url);
      await migrate(db);
    });
    afterAll(async () => {
      await db?.close();
      await cleanup?.();
    });

    // A fresh application per test: its accounts, holds and due times are its own.
    beforeEach(async () => {
      clock = new ManualClock(T0);
      const { app } = await createApp(db, clock, "reservations test");
      scope = { db, clock, appId: app.id };
      accountId = (await createAccount(scope, { externalId: "user-1" })).id;
      events.length = 0;
      await grant(scope, { accountId, amount: 100, unit: "credits" });
    });

    const balance = () => readBalance(scope, accountId, "credits");
    const hold = async (amount: number, ttlSeconds = 60, idempotencyKey?: string) =>
      (await reserve(scope, { accountId, amount, ttlSeconds, idempotencyKey })) as ReservationOutcome;
    const stored = async (id: string) => (await db.read((q) => q.get<{ status: string }>("SELECT status FROM reservations WHERE app_id = ? AND rsv_id = ?", [scope.appId, id])))!.status;
    const ledgerIsSound = async () => {
      const report = await verifyLedger(db);
      expect(report.problems).toEqual([]);
    };

    it("reserve moves credits from available to reserved; 402 with the shortfall and nothing held when short", async () => {
      const r = await hold(40);
      expect(r.reservation).toMatchObject({ status: "held", amount: 40, capturedAmount: 0, expiresAtMs: T0 + 60_000 });
      expect(await balance()).toMatchObject({ balance: 100, reserved: 40, available: 60 });
      const short = await fails(reserve(scope, { accountId, amount: 61 }));
      expect(short.code).toBe("INSUFFICIENT_CREDITS");
      expect(short.details).toEqual({ available: 60, required: 61, unit: "credits" });
      expect(await balance()).toMatchObject({ balance: 100, reserved: 40, available: 60 });
      await ledgerIsSound();
    });

    it("held → confirmed exactly once: a second confirm or a cancel is 409 RESERVATION_NOT_HELD, the same key replays", async () => {
      const r = await hold(40);
      const done = await confirm(scope, r.reservation.id, { idempotencyKey: "confirm-1" });
      expect(done.reservation).toMatchObject({ status: "confirmed", confirmedAmount: 40 });
      expect(done.transaction).toMatchObject({ type: "reservation_confirm", amount: -40, reservationId: r.reservation.id });
      expect(await balance()).toMatchObject({ balance: 60, reserved: 0, available: 60 });

      const replay = await confirm(scope, r.reservation.id, { idempotencyKey: "confirm-1" });
      expect(replay.alreadyProcessed).toBe(true);
      expect(replay.transaction?.id).toBe(done.transaction?.id);
      expect((await fails(confirm(scope, r.reservation.id, {}))).code).toBe("RESERVATION_NOT_HELD");
      expect((await fails(confirm(scope, r.reservation.id, { idempotencyKey: "confirm-2" }))).code).toBe("RESERVATION_NOT_HELD");
      expect((await fails(cancel(scope, r.reservation.id, {}))).code).toBe("RESERVATION_NOT_HELD");
      expect((await fails(capture(scope, r.reservation.id, { amount: 1 }))).code).toBe("RESERVATION_NOT_HELD");
      expect((await fails(extend(scope, r.reservation.id, 60))).code).toBe("RESERVATION_NOT_HELD");
      expect(await balance()).toMatchObject({ balance: 60, reserved: 0 });
      await ledgerIsSound();
    });

    it("held → canceled exactly once: every credit comes back; confirm after it is 409, the same cancel key replays", async () => {
      const r = await hold(70);
      const done = await cancel(scope, r.reservation.id, { idempotencyKey: "cancel-1" });
      expect(done.reservation.status).toBe("canceled");
      expect(await balance()).toMatchObject({ balance: 100, reserved: 0, available: 100 });
      expect((await cancel(scope, r.reservation.id, { idempotencyKey: "cancel-1" })).alreadyProcessed).toBe(true);
      expect((await fails(cancel(scope, r.reservation.id, { idempotencyKey: "cancel-2" }))).code).toBe("RESERVATION_NOT_HELD");
      expect((await fails(confirm(scope, r.reservation.id, { idempotencyKey: "cancel-1" }))).code).toBe("RESERVATION_NOT_HELD");
      expect(await balance()).toMatchObject({ balance: 100, reserved: 0 });
      await ledgerIsSound();
    });

    it("a confirm and a cancel racing on one hold: exactly one wins, the other is 409", async () => {
      const r = await hold(30);
      const results = await Promise.allSettled([
        confirm(scope, r.reservation.id, { amount: 30 }),
        cancel(scope, r.reservation.id, {}),
        confirm(scope, r.reservation.id, { amount: 10 }),
        cancel(scope, r.reservation.id, {}),
      ]);
      const won = results.filter((x) => x.status === "fulfilled");
      expect(won).toHaveLength(1);
      for (const lost of results.filter((x): x is PromiseRejectedResult => x.status === "rejected")) {
        expect((lost.reason as TallyError).code).toBe("RESERVATION_NOT_HELD");
      }
      const b = await balance();
      expect(b.reserved).toBe(0);
      expect([70, 90, 100]).toContain(b.balance);
      await ledgerIsSound();
    });

    it("confirming less spends only that and releases the rest", async () => {
      const r = await hold(50);
      const done = await confirm(scope, r.reservation.id, { amount: 20 });
      expect(done.transaction?.amount).toBe(-20);
      expect(await balance()).toMatchObject({ balance: 80, reserved: 0, available: 80 });
      await ledgerIsSound();
    });

    it("confirming zero spends nothing and releases everything", async () => {
      const r = await hold(50);
      const done = await confirm(scope, r.reservation.id, { amount: 0 });
      expect(done.reservation).toMatchObject({ status: "confirmed", confirmedAmount: 0 });
      expect(await balance()).toMatchObject({ balance: 100, reserved: 0 });
      await ledgerIsSound();
    });

    it("confirming more than reserved takes the extra from available credits", async () => {
      const r = await hold(50);
      const done = await confirm(scope, r.reservation.id, { amount: 70 });
      expect(done.transaction?.amount).toBe(-70);
      expect(done.transaction?.allocations.reduce((s, a) => s + a.amount, 0)).toBe(70);
      expect(await balance()).toMatchObject({ balance: 30, reserved: 0, available: 30 });
      await ledgerIsSound();
    });

    it("confirming more than is available is 402 and leaves the hold exactly as it was", async () => {
      const r = await hold(50);
      await deduct(scope, { accountId, amount: 45 });
      const short = await fails(confirm(scope, r.reservation.id, { amount: 60 }));
      expect(short.code).toBe("INSUFFICIENT_CREDITS");
      expect(short.details).toMatchObject({ available: 5, required: 10 });
      expect((await getReservation(scope, r.reservation.id)).status).toBe("held");
      expect(await balance()).toMatchObject({ balance: 55, reserved: 50, available: 5 });
      // Still confirmable afterwards.
      await confirm(scope, r.reservation.id, { amount: 55 });
      expect(await balance()).toMatchObject({ balance: 0, reserved: 0, available: 0 });
      await ledgerIsSound();
    });

    it("capture then confirm: captures spend at once, the hold shrinks, confirm settles the total captures included", async () => {
      const r = await hold(50);
      const c1 = await capture(scope, r.reservation.id, { amount: 20, idempotencyKey: "cap-1" });
      expect(c1.reservation).toMatchObject({ status: "held", capturedAmount: 20 });
      expect(c1.transaction).toMatchObject({ type: "reservation_capture", amount: -20 });
      expect(await balance()).toMatchObject({ balance: 80, reserved: 30, available: 50 });
      // A retry of the capture does not capture twice.
      expect((await capture(scope, r.reservation.id, { amount: 20, idempotencyKey: "cap-1" })).alreadyProcessed).toBe(true);
      await capture(scope, r.reservation.id, { amount: 10 });
      expect(await balance()).toMatchObject({ balance: 70, reserved: 20, available: 50 });

      expect((await fails(confirm(scope, r.reservation.id, { amount: 29 }))).code).toBe("VALIDATION_ERROR");
      const done = await confirm(scope, r.reservation.id, { amount: 45 });
      expect(done.reservation).toMatchObject({ status: "confirmed", confirmedAmount: 45, capturedAmount: 30 });
      expect(done.transaction?.amount).toBe(-15);
      expect(await balance()).toMatchObject({ balance: 55, reserved: 0, available: 55 });
      await ledgerIsSound();
    });

    it("a capture beyond the hold takes the rest from available credits, or is 402 and changes nothing", async () => {
      const r = await hold(10);
      await capture(scope, r.reservation.id, { amount: 15 });
      expect(await balance()).toMatchObject({ balance: 85, reserved: 0, available: 85 });
      const short = await fails(capture(scope, r.reservation.id, { amount: 86 }));
      expect(short.code).toBe("INSUFFICIENT_CREDITS");
      expect(await balance()).toMatchObject({ balance: 85, reserved: 0 });
      // Default confirm of a hold captured past its amount spends nothing more.
      const done = await confirm(scope, r.reservation.id, {});
      expect(done.reservation.confirmedAmount).toBe(15);
      expect(await balance()).toMatchObject({ balance: 85, reserved: 0 });
      await ledgerIsSound();
    });

    it("expiry counts at once at expiresAt, before any sweeper runs: released, and confirm/cancel/capture are 409 RESERVATION_EXPIRED", async () => {
      const r = await hold(40, 60);
      clock.set(T0 + 59_999);
      expect((await getReservation(scope, r.reservation.id)).status).toBe("held");
      expect(await balance()).toMatchObject({ reserved: 40, available: 60 });
      clock.set(T0 + 60_000);
      expect((await getReservation(scope, r.reservation.id)).status).toBe("expired");
      expect(await balance()).toMatchObject({ balance: 100, reserved: 0, available: 100 });
      expect((await fails(confirm(scope, r.reservation.id, {}))).code).toBe("RESERVATION_EXPIRED");
      expect((await fails(cancel(scope, r.reservation.id, {}))).code).toBe("RESERVATION_EXPIRED");
      expect((await fails(capture(scope, r.reservation.id, { amount: 1 }))).code).toBe("RESERVATION_EXPIRED");
      expect((await fails(extend(scope, r.reservation.id, 600))).code).toBe("RESERVATION_EXPIRED");
      await ledgerIsSound();
    });

    it("a spend at expiresAt can use the credits the expired hold held, though nothing settled it yet", async () => {
      await hold(90, 30);
      clock.set(T0 + 30_000);
      const d = (await deduct(scope, { accountId, amount: 100 })) as DeductResult;
      expect(d.balance).toMatchObject({ balance: 0, reserved: 0, available: 0 });
      await ledgerIsSound();
    });

    it("a hold with captures expires with its captures still charged and only the rest released", async () => {
      const r = await hold(50, 10);
      await capture(scope, r.reservation.id, { amount: 20 });
      clock.advanceMs(10_000);
      expect(await getReservation(scope, r.reservation.id)).toMatchObject({ status: "expired", capturedAmount: 20 });
      expect(await balance()).toMatchObject({ balance: 80, reserved: 0, available: 80 });
      await ledgerIsSound();
    });

    it("the sweeper records an expiry once: the first sweep settles it, a second sweep does nothing", async () => {
      const r = await hold(25, 5);
      events.push(...(await sweepOnce(db, clock)).events);
      expect(events.filter((e) => e.type === "reservation.expired")).toHaveLength(0);
      expect(await stored(r.reservation.id)).toBe("held");

      clock.advanceMs(5_000);
      const first = await sweepOnce(db, clock);
      events.push(...first.events);
      expect(first.settled).toBeGreaterThanOrEqual(1);
      expect(events.filter((e) => e.type === "reservation.expired" && e.data["reservationId"] === r.reservation.id)).toHaveLength(1);
      expect(await stored(r.reservation.id)).toBe("expired");
      const row = await db.read((q) => q.get<{ reserved: number; next_due_at: number | null }>("SELECT reserved, next_due_at FROM balances WHERE app_id = ? AND account_id = ?", [scope.appId, accountId]));
      expect(Number(row?.reserved)).toBe(0);
      expect(row?.next_due_at).toBeNull();

      events.push(...(await sweepOnce(db, clock)).events);
      expect(events.filter((e) => e.type === "reservation.expired")).toHaveLength(1);
      // Other applications' tests may leave due rows; this one's is not among them.
      const mine = await db.read((q) => q.get<{ n: number }>("SELECT COUNT(*) AS n FROM balances WHERE app_id = ? AND next_due_at IS NOT NULL", [scope.appId]));
      expect(Number(mine?.n)).toBe(0);
      expect(await balance()).toMatchObject({ balance: 100, reserved: 0 });
      await ledgerIsSound();
    });

    it("the sweeper and a request settling the same expiry release it once", async () => {
      const r = await hold(25, 5);
      clock.advanceMs(6_000);
      await Promise.all([sweepOnce(db, clock).then((s) => events.push(...s.events)), getReservation(scope, r.reservation.id), balance(), sweepOnce(db, clock).then((s) => events.push(...s.events))]);
      expect(await stored(r.reservation.id)).toBe("expired");
      expect(await balance()).toMatchObject({ balance: 100, reserved: 0, available: 100 });
      await ledgerIsSound();
    });

    describe("clock jumps (expiry follows the injected clock; see the note at the top)", () => {
      it("a backwards jump never expires a hold, and it still expires once the clock reaches expiresAt again", async () => {
        const r = await hold(40, 60);
        clock.set(T0 - 3_600_000);
        expect((await getReservation(scope, r.reservation.id)).status).toBe("held");
        expect(await balance()).toMatchObject({ reserved: 40, available: 60 });
        await sweepOnce(db, clock);
        expect(await stored(r.reservation.id)).toBe("held");
        clock.set(T0 + 59_999);
        await sweepOnce(db, clock);
        expect((await getReservation(scope, r.reservation.id)).status).toBe("held");
        clock.set(T0 + 60_000);
        expect((await getReservation(scope, r.reservation.id)).status).toBe("expired");
        await ledgerIsSound();
      });

      it("extend after a backwards jump never moves expiresAt earlier", async () => {
        const r = await hold(40, 60);
        clock.set(T0 - 3_600_000);
        const extended = await extend(scope, r.reservation.id, 10);
        expect(extended.expiresAtMs).toBe(T0 + 60_000);
        clock.set(T0 + 30_000);
        expect((await extend(scope, r.reservation.id, 120)).expiresAtMs).toBe(T0 + 150_000);
        clock.set(T0 + 149_999);
        expect((await getReservation(scope, r.reservation.id)).status).toBe("held");
      });

      it("a forwards jump short of expiresAt changes nothing; a jump past it expires the hold at once", async () => {
        const r = await hold(40, 600);
        clock.advanceMs(599_999);
        await sweepOnce(db, clock);
        expect((await getReservation(scope, r.reservation.id)).status).toBe("held");
        // Still a live hold one millisecond before its end: it can be confirmed.
        expect((await confirm(scope, r.reservation.id, { amount: 1 })).reservation.status).toBe("confirmed");
        const other = await hold(10, 600);
        clock.advanceMs(86_400_000);
        expect((await getReservation(scope, other.reservation.id)).status).toBe("expired");
        expect(await balance()).toMatchObject({ balance: 99, reserved: 0, available: 99 });
        await ledgerIsSound();
      });
    });

    describe("lots expiring while held", () => {
      beforeEach(async () => {
        // Start each case from one expiring lot only.
        const { app } = await createApp(db, clock, "expiring lots");
        scope = { db, clock, appId: app.id };
        accountId = (await createAccount(scope, { externalId: "user-2" })).id;
        await grant(scope, { accountId, amount: 100, unit: "credits", expiresAtMs: T0 + 30_000 });
      });

      it("held credits of an expired lot stay held for the reservation, which can still spend them", async () => {
        const r = await hold(80, 600);
        clock.set(T0 + 31_000);
        // The 20 unheld credits expired; the 80 held ones are the reservation's until it resolves.
        expect(await balance()).toMatchObject({ balance: 80, reserved: 80, available: 0 });
        const done = await confirm(scope, r.reservation.id, { amount: 50 });
        expect(done.transaction?.amount).toBe(-50);
        // The 30 released back into the expired lot expire at once.
        expect(await balance()).toMatchObject({ balance: 0, reserved: 0, available: 0 });
        await ledgerIsSound();
      });

      it("canceling a hold whose lot expired meanwhile expires its credits at once, recorded as expiry", async () => {
        const r = await hold(60, 600);
        clock.set(T0 + 40_000);
        await cancel(scope, r.reservation.id, {});
        expect(await balance()).toMatchObject({ balance: 0, reserved: 0 });
        const expiries = await db.read((q) =>
          q.all<{ amount: number }>("SELECT amount FROM transactions WHERE app_id = ? AND account_id = ? AND type = 'expiry'", [scope.appId, accountId]),
        );
        expect(expiries.reduce((s, e) => s + Number(e.amount), 0)).toBe(-100);
        await ledgerIsSound();
      });

      it("a hold that outlives its lot and then expires itself leaves nothing behind", async () => {
        const r = await hold(60, 120);
        clock.set(T0 + 120_000);
        expect((await getReservation(scope, r.reservation.id)).status).toBe("expired");
        expect(await balance()).toMatchObject({ balance: 0, reserved: 0, available: 0 });
        await sweepOnce(db, clock);
        await ledgerIsSound();
      });

      it("a refund of a spend from a lot that expired since comes back as a new lot without expiry", async () => {
        const d = (await deduct(scope, { accountId, amount: 30 })) as DeductResult;
        clock.set(T0 + 30_000);
        const back = await refund(scope, { transactionId: d.transaction.id });
        expect(back.transaction.amount).toBe(30);
        expect(back.transaction.grantId).not.toBeNull();
        expect(back.balance).toMatchObject({ balance: 30, available: 30 });
        clock.advanceMs(365 * 86_400_000);
        expect(await balance()).toMatchObject({ balance: 30 });
        await ledgerIsSound();
      });
    });

    describe("the next due time after a hold resolves", () => {
      const nextDue = async () =>
        (await db.read((q) => q.get<{ t: number | null }>("SELECT next_due_at AS t FROM balances WHERE app_id = ? AND account_id = ? AND unit = ?", [scope.appId, accountId, "credits"])))!.t;

      it("is exactly the first of the other holds' and the live lots' expiries, after confirm, capture and cancel alike", async () => {
        // The beforeEach lot has no expiry; this one expires after the holds below.
        await grant(scope, { accountId, amount: 50, unit: "credits", expiresAtMs: T0 + 900_000 });
        const soon = await hold(10, 60);
        const later = await hold(10, 300);
        const last = await hold(10, 600);
        expect(Number(await nextDue())).toBe(T0 + 60_000);
        await confirm(scope, soon.reservation.id, { amount: 4 });
        expect(Number(await nextDue())).toBe(T0 + 300_000);
        await capture(scope, later.reservation.id, { amount: 2 });
        expect(Number(await nextDue())).toBe(T0 + 300_000); // still held
        await cancel(scope, later.reservation.id, {});
        expect(Number(await nextDue())).toBe(T0 + 600_000);
        await confirm(scope, last.reservation.id, {});
        expect(Number(await nextDue())).toBe(T0 + 900_000); // the lot's expiry
        await deduct(scope, { accountId, amount: 130 }); // of 134: the expiring lot first, then 80 of the other
        const spendAll = await hold(4, 30);
        await cancel(scope, spendAll.reservation.id, {});
        expect(await nextDue()).toBeNull(); // nothing left that expires
        await ledgerIsSound();
      });

      it("tally verify reports a next due time later than the first expiry, and accepts an earlier one", async () => {
        await hold(10, 60);
        const setDue = (ms: number | null) =>
          db.transaction((tx) => tx.run("UPDATE balances SET next_due_at = ? WHERE app_id = ? AND account_id = ? AND unit = ?", [ms, scope.appId, accountId, "credits"]));
        const problems = async () => (await verifyLedger(db)).problems.filter((p) => p.startsWith(`${scope.appId} `));
        await setDue(T0 + 30_000); // earlier: settling finds nothing due and works it out again
        expect(await problems()).toEqual([]);
        await setDue(T0 + 60_001);
        expect(await problems()).toEqual([`${scope.appId} ${accountId} credits: next due time ${T0 + 60_001} is later than the first expiry ${T0 + 60_000}`]);
        await setDue(null);
        expect(await problems()).toEqual([`${scope.appId} ${accountId} credits: next due time none is later than the first expiry ${T0 + 60_000}`]);
        await setDue(T0 + 60_000);
      });
    });
  });
}

import type { Metadata, ReservationRecord, TransactionRecord } from "../store/records.ts";
import * as repo from "../store/repo/reservations.ts";
import { findTransactionByKey, getTransaction } from "../store/repo/transactions.ts";
import { lockBalance } from "../store/repo/balances.ts";
import { lockForHold, lockReservation, readForHold } from "../store/repo/ledger-reads.ts";
import { assert, notFound, TallyError, validationError } from "./errors.ts";
import { accountLane, inTransaction, Rollback, type Scope } from "./context.ts";
import { checkAccountRef, requireAccount, type AccountRef } from "./accounts.ts";
import { UnitLedger, type LedgerContext } from "./unit-ledger.ts";
import { settledBalance, type BalanceView } from "./balances.ts";
import { dryRun, resolveAmount, type DryRunResult } from "./credits.ts";
import { LIMITS } from "./limits.ts";
import { newId } from "./ids.ts";
import type { Allocation } from "../store/records.ts";
import type { TransactionOptions } from "../store/sql.ts";

/**
 * A reservation (a hold) moves credits from available to reserved until it resolves, at most
 * once, into exactly one of: confirmed (spent in full or in part, the rest released), canceled
 * (all released) or expired (released at `expiresAt`). Captures spend part of a hold early while
 * it stays held. Repeating a resolution with the same idempotency key answers with the first
 * outcome; anything else on a resolved hold is a 409.
 */

export interface ReserveInput extends AccountRef {
  amount?: number | undefined;
  unit?: string | undefined;
  ttlSeconds?: number | undefined;
  operation?: string | undefined;
  reference?: string | undefined;
  description?: string | undefined;
  metadata?: Metadata | undefined;
  idempotencyKey?: string | undefined;
  dryRun?: boolean | undefined;
}

export interface ReservationOutcome {
  reservation: ReservationRecord;
  transaction?: TransactionRecord | undefined;
  balance: BalanceView;
  alreadyProcessed?: boolean;
}

/** A reservation's dry run answers exactly as a deduct's does. */
export type ReserveDryRun = DryRunResult;

function run<T>(scope: Scope, fn: (ctx: LedgerContext) => Promise<T>, options?: TransactionOptions): Promise<T> {
  return inTransaction(scope, (tx, nowMs) => fn({ tx, appId: scope.appId, nowMs }), options);
}

export async function reserve(scope: Scope, input: ReserveInput): Promise<ReservationOutcome | ReserveDryRun> {
  return run(scope, async (ctx) => {
    const { tx, appId, nowMs } = ctx;
    checkAccountRef(input);
    const { amount, unit } = await resolveAmount(tx, appId, input).catch(async (error: unknown) => {
      await requireAccount(tx, appId, input); // an unknown account is the first thing to say
      throw error;
    });
    const ttlSeconds = input.ttlSeconds ?? LIMITS.reservationTtlSecondsDefault;
    // As a deduct does: the account's balance row, locked, then the key and the lots under that
    // lock (on PostgreSQL all in one statement); only an account that never had credits in this
    // unit, or none at all, takes the long way. A dry run answers whatever the key.
    const key = input.dryRun === true ? undefined : input.idempotencyKey;
    let start = await lockForHold(tx, appId, input, unit, key);
    if (start === undefined) {
      const account = await requireAccount(tx, appId, input);
      start = { balance: await lockBalance(tx, appId, account.id, unit, nowMs), ...(await readForHold(tx, appId, key, account.id, unit)) };
    }
    const { balance: locked, existing, lots } = start;
    const accountId = locked.accountId;
    if (existing !== undefined) {
      // Read under the lock: a retry racing its own first attempt waits for it and then finds it (see credits.ts, awaitFirstAttempt).
      if (existing.accountId !== accountId || existing.amount !== amount || existing.unit !== unit) {
        throw new TallyError("IDEMPOTENCY_KEY_REUSED", `Idempotency key ${JSON.stringify(key)} was already used for reservation ${existing.id}`, {
          reservationId: existing.id,
        });
      }
      // The balance first: settling it may expire this very hold, and the replay shows it as it is now.
      const balance = await balanceOf(ctx, existing.accountId, existing.unit);
      const current = await repo.getReservation(tx, appId, existing.id);
      assert(current !== undefined, "a reservation is never deleted");
      return { reservation: current, balance, alreadyProcessed: true };
    }
    const ledger = await UnitLedger.open(ctx, accountId, unit, locked, lots);
    if (input.dryRun === true) throw new Rollback(await dryRun(ctx, ledger, amount));
    const holds = await ledger.hold(amount);
    const reservation: ReservationRecord = {
      id: newId("reservation", nowMs),
      accountId,
      unit,
      amount,
      capturedAmount: 0,
      status: "held",
      expiresAtMs: nowMs + ttlSeconds * 1000,
      confirmedAmount: null,
      transactionId: null,
      operation: input.operation ?? null,
      reference: input.reference ?? null,
      description: input.description ?? null,
      metadata: input.metadata ?? {},
      holds,
      idempotencyKey: input.idempotencyKey ?? null,
      resolutionKey: null,
      resolution: null,
      createdAtMs: nowMs,
      resolvedAtMs: null,
    };
    ledger.writeReservation(reservation, true);
    ledger.noteHoldExpiry(reservation.expiresAtMs);
    await ledger.finish();
    return { reservation, balance: await ledger.view() };
  }, { lane: accountLane(scope.appId, input) });
}

/** The balance as of now for an answer that changed nothing: settled first when something fell due. */
async function balanceOf(ctx: LedgerContext, accountId: string, unit: string): Promise<BalanceView> {
  const view = await settledBalance(ctx, accountId, unit);
  assert(view !== undefined, "a reservation's account has a balance row");
  return view;
}

/**
 * Answers for a hold that is no longer held. The ledger is finished first: opening it may have
 * settled expiries, which must be saved with the answer (or rolled back with its 409).
 */
async function finishResolved<T>(ledger: UnitLedger, answer: () => Promise<T>): Promise<T> {
  await ledger.finish();
  return answer();
}

interface OpenedHold {
  ledger: UnitLedger;
  reservation: ReservationRecord;
  /** The transaction already recorded under the operation's key, read under the lock (none without a key). */
  keyed: TransactionRecord | undefined;
}

/**
 * Loads a reservation after taking its account's lock, settling anything due first. `key`: the
 * idempotency key its transaction would be recorded under, looked up under the lock (on
 * PostgreSQL by the lock's own statement).
 */
async function openHeld(ctx: LedgerContext, reservationId: string, key?: string): Promise<OpenedHold> {
  const locked = await lockReservation(ctx.tx, ctx.appId, reservationId, key, LIMITS.lotsPerOperationMax);
  if (locked === undefined) throw notFound("RESERVATION_NOT_FOUND", "reservation", reservationId);
  const { reads } = locked;
  const ledger = await UnitLedger.open(ctx, locked.balance.accountId, locked.balance.unit, locked.balance, reads?.lots);
  // As it is under the lock, once settling is done: another request may have resolved it while
  // the lock waited, or settling may have expired it. The lock's own read serves unless either.
  const settled = ledger.settledOnOpen;
  const reservation = locked.reservation !== undefined && !settled ? locked.reservation : await repo.getReservation(ctx.tx, ctx.appId, reservationId);
  assert(reservation !== undefined, "a reservation is never deleted");
  assert(reservation.accountId === ledger.accountId && reservation.unit === ledger.unit, "the reservation holds credits in the locked balance");
  if (reads !== undefined && !settled) ledger.knowOtherHolds(reservationId, reads.otherHoldsMs);
  // Read with the lock where it could be; settling records expiries under no key, so it stands.
  const keyed = key === undefined ? undefined : reads !== undefined ? reads.existing : await findTransactionByKey(ctx.tx, ctx.appId, key);
  return { ledger, reservation, keyed };
}

/** The 409 for acting on a hold that is no longer held, or the first outcome when this is its retry. */
async function resolvedAnswer(
  ctx: LedgerContext,
  reservation: ReservationRecord,
  resolution: string,
  key: string | undefined,
  confirmedAmount?: number | undefined,
): Promise<ReservationOutcome> {
  if (key !== undefined && reservation.resolutionKey === key && reservation.resolution === resolution) {
    // A retry asks for the same thing; the same key confirming another amount is a different request.
    if (confirmedAmount !== undefined && confirmedAmount !== reservation.confirmedAmount) {
      throw new TallyError("IDEMPOTENCY_KEY_REUSED", `Idempotency key ${JSON.stringify(key)} already confirmed reservation ${reservation.id} for ${reservation.confirmedAmount}`, {
        reservationId: reservation.id,
      });
    }
    const transaction = reservation.transactionId === null ? undefined : await getTransaction(ctx.tx, ctx.appId, reservation.transactionId);
    return { reservation, transaction, balance: await balanceOf(ctx, reservation.accountId, reservation.unit), alreadyProcessed: true };
  }
  if (reservation.status === "expired") {
    throw new TallyError("RESERVATION_EXPIRED", `Reservation ${reservation.id} expired at ${new Date(reservation.expiresAtMs).toISOString()}`, {
      reservationId: reservation.id,
      status: reservation.status,
    });
  }
  throw new TallyError("RESERVATION_NOT_HELD", `Reservation ${reservation.id} is already ${reservation.status}`, {
    reservationId: reservation.id,
    status: reservation.status,
  });
}

export interface ConfirmInput {
  amount?: number | undefined;
  description?: string | undefined;
  idempotencyKey?: string | undefined;
}

/**
 * Settles a hold: spends `amount` in total (captures included; default the reserved amount) and
 * releases the rest. More than reserved succeeds only if the extra is available (else 402 and
 * the hold stays as it was).
 */
export async function confirm(scope: Scope, reservationId: string, input: ConfirmInput): Promise<ReservationOutcome> {
  return run(scope, async (ctx) => {
    const { ledger, reservation, keyed: taken } = await openHeld(ctx, reservationId, input.idempotencyKey);
    if (reservation.status !== "held") return finishResolved(ledger, () => resolvedAnswer(ctx, reservation, "confirm", input.idempotencyKey, input.amount));
    // The confirm's transaction takes this ledger key; one already used elsewhere is a reused key, not a unique-index crash.
    if (taken !== undefined) {
      throw new TallyError("IDEMPOTENCY_KEY_REUSED", `Idempotency key ${JSON.stringify(input.idempotencyKey)} was already used for ${taken.type} ${taken.id}`, {
        transactionId: taken.id,
      });
    }
    const total = input.amount ?? Math.max(reservation.amount, reservation.capturedAmount);
    if (total < reservation.capturedAmount) {
      throw validationError("/amount", `must be at least the ${reservation.capturedAmount} already captured`);
    }
    const rest = total - reservation.capturedAmount;
    const { allocations, transaction } = await spendFromHold(ledger, reservation, rest, "reservation_confirm", {
      idempotencyKey: input.idempotencyKey,
      description: input.description ?? reservation.description ?? undefined,
    });
    await ledger.release(reservation.holds);
    reservation.holds = [];
    reservation.status = "confirmed";
    reservation.confirmedAmount = total;
    reservation.transactionId = transaction.id;
    reservation.resolution = "confirm";
    reservation.resolutionKey = input.idempotencyKey ?? null;
    reservation.resolvedAtMs = ctx.nowMs;
    assert(allocations.reduce((s, a) => s + a.amount, 0) === rest, "confirm's receipt adds up to what it spent");
    ledger.writeReservation(reservation, false);
    await ledger.finish();
    return { reservation, transaction, balance: await ledger.view() };
  });
}

/** Spends `amount` from the reservation's holds first, then (beyond them) from available credits. */
async function spendFromHold(
  ledger: UnitLedger,
  reservation: ReservationRecord,
  amount: number,
  type: "reservation_confirm" | "reservation_capture",
  extra: { idempotencyKey?: string | undefined; description?: string | undefined },
): Promise<{ allocations: Allocation[]; transaction: TransactionRecord }> {
  const heldLeft = reservation.holds.reduce((s, h) => s + h.amount, 0);
  const fromHolds = Math.min(amount, heldLeft);
  // Check the extra first so that a 402 leaves the hold untouched.
  const beyond = amount - fromHolds;
  if (beyond > 0) await ledger.plan(beyond);
  const spent = await ledger.spendHolds(reservation.holds, fromHolds);
  reservation.holds = spent.left;
  const allocations = [...spent.allocations];
  if (beyond > 0) allocations.push(...(await ledger.burn(beyond)));
  // Written by `finish`, with the lots and the balance (one statement on PostgreSQL): nothing
  // before it reads the transaction back.
  const transaction = await ledger.record(
    {
      type,
      amount: -amount,
      allocations,
      reservationId: reservation.id,
      idempotencyKey: extra.idempotencyKey ?? null,
      operation: reservation.operation,
      reference: reservation.reference,
      description: extra.description ?? null,
      metadata: reservation.metadata,
    },
    { deferWrite: true },
  );
  return { allocations, transaction };
}

export interface CaptureInput {
  amount: number;
  idempotencyKey?: string | undefined;
}

/** Spends part of a hold now (streaming); the hold stays held for the rest. */
export async function capture(scope: Scope, reservationId: string, input: CaptureInput): Promise<ReservationOutcome> {
  return run(scope, async (ctx) => {
    const { ledger, reservation, keyed } = await openHeld(ctx, reservationId, input.idempotencyKey);
    if (input.idempotencyKey !== undefined) {
      const replay = findCaptureReplay(keyed, reservation, input.idempotencyKey, input.amount);
      if (replay !== undefined) {
        return finishResolved(ledger, async () => ({ reservation, transaction: replay, balance: await balanceOf(ctx, reservation.accountId, reservation.unit), alreadyProcessed: true }));
      }
    }
    if (reservation.status !== "held") return finishResolved(ledger, () => resolvedAnswer(ctx, reservation, "capture", undefined));
    const { transaction } = await spendFromHold(ledger, reservation, input.amount, "reservation_capture", {
      idempotencyKey: input.idempotencyKey,
    });
    reservation.capturedAmount += input.amount;
    ledger.writeReservation(reservation, false);
    await ledger.finish();
    return { reservation, transaction, balance: await ledger.view() };
  });
}

/** The capture that `existing` (the transaction under the capture's key) recorded, when this is its retry. */
function findCaptureReplay(existing: TransactionRecord | undefined, reservation: ReservationRecord, key: string, amount: number): TransactionRecord | undefined {
  if (existing === undefined) return undefined;
  if (existing.type !== "reservation_capture" || existing.reservationId !== reservation.id || -existing.amount !== amount) {
    throw new TallyError("IDEMPOTENCY_KEY_REUSED", `Idempotency key ${JSON.stringify(key)} was already used for ${existing.type} ${existing.id}`, {
      transactionId: existing.id,
    });
  }
  return existing;
}

export interface CancelInput {
  reason?: string | undefined;
  idempotencyKey?: string | undefined;
}

/** Releases every credit a hold still holds. */
export async function cancel(scope: Scope, reservationId: string, input: CancelInput): Promise<ReservationOutcome> {
  return run(scope, async (ctx) => {
    const { ledger, reservation } = await openHeld(ctx, reservationId);
    if (reservation.status !== "held") return finishResolved(ledger, () => resolvedAnswer(ctx, reservation, "cancel", input.idempotencyKey));
    await ledger.resolveHeld(reservation, "canceled", input.idempotencyKey ?? null);
    ledger.writeReservation(reservation, false);
    await ledger.finish();
    return { reservation, balance: await ledger.view() };
  });
}

/** Moves a held reservation's expiry to `ttlSeconds` from now (never earlier than it was). */
export async function extend(scope: Scope, reservationId: string, ttlSeconds: number): Promise<ReservationRecord> {
  return run(scope, async (ctx) => {
    const { ledger, reservation } = await openHeld(ctx, reservationId);
    if (reservation.status !== "held") {
      return (await finishResolved(ledger, () => resolvedAnswer(ctx, reservation, "extend", undefined))).reservation;
    }
    reservation.expiresAtMs = Math.max(reservation.expiresAtMs, ctx.nowMs + ttlSeconds * 1000);
    ledger.writeReservation(reservation, false);
    await ledger.finish();
    return reservation;
  });
}

/** A reservation as of now: a hold past its expiry reads as expired (and is settled). */
export async function getReservation(scope: Scope, reservationId: string): Promise<ReservationRecord> {
  const found = await scope.db.read((q) => repo.getReservation(q, scope.appId, reservationId));
  if (found === undefined) throw notFound("RESERVATION_NOT_FOUND", "reservation", reservationId);
  if (found.status === "held" && found.expiresAtMs <= scope.clock.nowMs()) {
    return run(scope, async (ctx) => {
      const { ledger, reservation } = await openHeld(ctx, reservationId);
      await ledger.finish();
        return reservation;
    });
  }
  return found;
}

export async function listReservations(scope: Scope, filter: repo.ReservationFilter): Promise<ReservationRecord[]> {
  const nowMs = scope.clock.nowMs();
  const rows = await scope.db.read((q) => repo.listReservations(q, scope.appId, { ...filter, asOfMs: nowMs }));
  // Holds past expiry that no one has settled yet are shown as what they are.
  return rows.map((r) => (r.status === "held" && r.expiresAtMs <= nowMs ? { ...r, status: "expired" as const, holds: [] } : r));
}

export { requireAccount };

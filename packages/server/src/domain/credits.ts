import type { BalanceRecord, LotRecord, LotSource, Metadata, TransactionRecord, TransactionType } from "../store/records.ts";
import { findTransactionByKey, getTransaction, listRefundsOf } from "../store/repo/transactions.ts";
import { getLots } from "../store/repo/lots.ts";
import { getPrice } from "../store/repo/prices.ts";
import { lockBalance } from "../store/repo/balances.ts";
import { lockForSpend, readForSpend } from "../store/repo/ledger-reads.ts";
import { StaleCredits } from "../store/repo/ledger-writes.ts";
import { assert, notFound, TallyError, validationError } from "./errors.ts";
import { accountLane, inTransaction, Rollback, type Scope } from "./context.ts";
import { checkAccountRef, resolveForWrite, requireAccount, type AccountRef } from "./accounts.ts";
import { UnitLedger, type LedgerContext } from "./unit-ledger.ts";
import { settledBalance, type BalanceView } from "./balances.ts";
import { assertSameOperation } from "./ledger-keys.ts";
import { newId } from "./ids.ts";
import type { Sql } from "../store/sql.ts";
import type { Allocation } from "../store/records.ts";

/*
 * awaitFirstAttempt: a keyed operation takes its account's row lock BEFORE looking its key up.
 * A retry can arrive (on another connection or process) while its first attempt is still
 * committing; the first attempt holds that lock, so the retry waits for it and then finds it,
 * and replays it. Without the lock the retry would not see it yet and could answer a definite
 * "no" (402, or 400 for a lot whose expiry has passed since) for an operation that happened.
 */

export interface GrantInput extends AccountRef {
  amount: number;
  unit: string;
  expiresAtMs?: number | undefined;
  priority?: number | undefined;
  source?: LotSource | undefined;
  reference?: string | undefined;
  description?: string | undefined;
  metadata?: Metadata | undefined;
  idempotencyKey?: string | undefined;
}

export interface GrantResult {
  transaction: TransactionRecord;
  grant: LotRecord;
  balance: BalanceView;
  alreadyProcessed: boolean;
}

/**
 * The balance as of now, for a replayed answer. When something fell due since (a lot or hold
 * expired) it is settled first, as any read does: a replay must not show expired credits.
 */
async function currentBalance(ctx: LedgerContext, accountId: string, unit: string): Promise<BalanceView> {
  return (await settledBalance(ctx, accountId, unit)) ?? { accountId, unit, balance: 0, reserved: 0, available: 0 };
}

/**
 * Adds credits as a new lot. A grant naming an unknown `externalId` creates the account.
 *
 * @example
 * await grant(scope, { externalId: "user_1", amount: 1000, unit: "credits", source: "purchase" });
 */
export async function grant(scope: Scope, input: GrantInput, type: "grant" | "credit" = "grant"): Promise<GrantResult> {
  return inTransaction(scope, async (tx, nowMs) => {
    const ctx: LedgerContext = { tx, appId: scope.appId, nowMs };
    const account = await resolveForWrite(tx, scope.appId, input, nowMs, true);
    let locked: BalanceRecord | undefined;
    if (input.idempotencyKey !== undefined) {
      locked = await lockBalance(tx, scope.appId, account.id, input.unit, nowMs); // see awaitFirstAttempt
      const existing = await findTransactionByKey(tx, scope.appId, input.idempotencyKey);
      if (existing !== undefined) {
        assertSameOperation(existing, { types: [type], accountId: account.id, amount: input.amount, unit: input.unit });
        const [lot] = await getLots(tx, scope.appId, existing.grantId === null ? [] : [existing.grantId]);
        assert(lot !== undefined, "a grant transaction has its lot");
        return { transaction: existing, grant: lot, balance: await currentBalance(ctx, account.id, existing.unit), alreadyProcessed: true };
      }
    }
    // Checked after the key lookup: a retry of a grant whose lot has expired since must replay it, not 400.
    if (input.expiresAtMs !== undefined && input.expiresAtMs <= nowMs) throw validationError("/expiresAt", "must be in the future");
    return addGrant(ctx, account.id, input, type, locked);
  }, { lane: accountLane(scope.appId, input) });
}

/** Writes a new lot and its grant (or credit) transaction: the one place a grant is made. */
async function addGrant(
  ctx: LedgerContext,
  accountId: string,
  input: Omit<GrantInput, "accountId" | "externalId">,
  type: "grant" | "credit",
  locked?: BalanceRecord,
): Promise<GrantResult> {
  const ledger = await UnitLedger.open(ctx, accountId, input.unit, locked);
  // The lot and its transaction reference each other, so the transaction id is made first.
  const transactionId = newId("transaction", ctx.nowMs);
  const lot = await ledger.addLot({
    amount: input.amount,
    source: input.source ?? "manual",
    priority: input.priority ?? 0,
    expiresAtMs: input.expiresAtMs ?? null,
    reference: input.reference ?? null,
    description: input.description ?? null,
    metadata: input.metadata ?? {},
    transactionId,
  });
  const transaction = await ledger.record({
    id: transactionId,
    type,
    amount: input.amount,
    grantId: lot.id,
    allocations: [{ grantId: lot.id, amount: input.amount, source: lot.source, expiresAtMs: lot.expiresAtMs }],
    idempotencyKey: input.idempotencyKey ?? null,
    reference: input.reference ?? null,
    description: input.description ?? null,
    metadata: input.metadata ?? {},
  });
  await ledger.finish();
  return { transaction, grant: lot, balance: await ledger.view(), alreadyProcessed: false };
}

export interface DeductInput extends AccountRef {
  amount?: number | undefined;
  operation?: string | undefined;
  unit?: string | undefined;
  idempotencyKey?: string | undefined;
  description?: string | undefined;
  metadata?: Metadata | undefined;
  dryRun?: boolean | undefined;
}

export interface DeductResult {
  transaction: TransactionRecord;
  balance: BalanceView;
  alreadyProcessed: boolean;
}

export interface DryRunResult {
  dryRun: true;
  wouldSucceed: boolean;
  amount: number;
  unit: string;
  allocations: Allocation[];
  balance: BalanceView;
  shortfall?: { available: number; required: number; unit: string };
}

/** What spending `amount` from an open ledger would do, changing nothing (the caller rolls back). */
export async function dryRun(ctx: LedgerContext, ledger: UnitLedger, amount: number): Promise<DryRunResult> {
  const unit = ledger.unit;
  try {
    const allocations = await ledger.plan(amount);
    return { dryRun: true, wouldSucceed: true, amount, unit, allocations, balance: await ledger.view() };
  } catch (error) {
    if (!(error instanceof TallyError) || error.code !== "INSUFFICIENT_CREDITS") throw error;
    return {
      dryRun: true,
      wouldSucceed: false,
      amount,
      unit,
      allocations: [],
      balance: await ledger.view(),
      shortfall: { available: ledger.available, required: amount, unit },
    };
  }
}

/** The amount and unit of a spend: given explicitly, or the price of `operation`. */
export async function resolveAmount(tx: Sql, appId: string, input: { amount?: number | undefined; operation?: string | undefined; unit?: string | undefined }): Promise<{ amount: number; unit: string }> {
  if (input.amount !== undefined) return { amount: input.amount, unit: input.unit ?? "credits" };
  if (input.operation === undefined) throw validationError("/amount", "amount is required unless operation names a price");
  const price = await getPrice(tx, appId, input.operation);
  if (price === undefined || price.amount === null) {
    throw validationError("/amount", `amount is required: no operation price is set for ${JSON.stringify(input.operation)}`);
  }
  if (input.unit !== undefined && input.unit !== price.unit) {
    throw validationError("/unit", `operation ${input.operation} is priced in ${price.unit}`);
  }
  return { amount: price.amount, unit: price.unit };
}

/**
 * Spends credits, burning lots in burn order. 402 when the account cannot pay; nothing changes.
 *
 * @example
 * await deduct(scope, { externalId: "user_1", amount: 5, operation: "app.chat.reply", idempotencyKey: "turn-1" });
 */
export async function deduct(scope: Scope, input: DeductInput, type: "deduct" | "debit" = "deduct"): Promise<DeductResult | DryRunResult> {
  return inTransaction<DeductResult | DryRunResult>(scope, async (tx, nowMs) => {
    const ctx: LedgerContext = { tx, appId: scope.appId, nowMs };
    checkAccountRef(input);
    const { amount, unit } = await resolveAmount(tx, scope.appId, input).catch(async (error: unknown) => {
      await requireAccount(tx, scope.appId, input); // an unknown account is the first thing to say
      throw error;
    });
    // The hot path: one statement finds the account's balance row, locks it and reads the key
    // and the lots under that lock (see awaitFirstAttempt); in a batch that already wrote this
    // account, none (`lockForSpend`). Only an account that has never had credits in this unit
    // (or does not exist) takes the long way. A dry run answers whatever the key.
    const key = input.dryRun === true ? undefined : input.idempotencyKey;
    // The attempt under way, when it works from the batch's memory: its ledger, once opened.
    let fromMemory: { ledger: UnitLedger | undefined } | undefined;
    const spend = async (fromBatchMemory: boolean): Promise<DeductResult | DryRunResult> => {
      let start = await lockForSpend(tx, scope.appId, input, unit, key, fromBatchMemory ? nowMs : undefined);
      if (start === undefined) {
        const account = await requireAccount(tx, scope.appId, input);
        const balance = await lockBalance(tx, scope.appId, account.id, unit, nowMs);
        start = { balance, ...(await readForSpend(tx, scope.appId, key, account.id, unit)) };
      }
      const { balance: locked, existing, lots, guard } = start;
      fromMemory = guard === undefined ? undefined : { ledger: undefined };
      const accountId = locked.accountId;
      if (existing !== undefined) {
        assertSameOperation(existing, { types: [type], accountId, amount, unit });
        return { transaction: existing, balance: await currentBalance(ctx, accountId, existing.unit), alreadyProcessed: true };
      }
      const ledger = await UnitLedger.open(ctx, accountId, unit, locked, lots, guard);
      if (fromMemory !== undefined) fromMemory.ledger = ledger;
      if (input.dryRun === true) {
        // Opening the ledger may have settled expiries; a dry run changes nothing, so roll back.
        throw new Rollback(await dryRun(ctx, ledger, amount));
      }
      const allocations = await ledger.burn(amount);
      const transaction = await ledger.record(
        {
          type,
          amount: -amount,
          allocations,
          idempotencyKey: input.idempotencyKey ?? null,
          operation: input.operation ?? null,
          description: input.description ?? null,
          metadata: input.metadata ?? {},
        },
        { deferWrite: true },
      );
      await ledger.finish();
      return { transaction, balance: await ledger.view(), alreadyProcessed: false };
    };
    try {
      return await spend(input.dryRun !== true);
    } catch (error) {
      // What the batch noted no longer holds, or the key is taken (a retry of a spend earlier in
      // this batch), or the spend was refused (402, 422) from the note with its key unchecked: a
      // retry of an applied spend must replay, not be refused. Nothing was written, so start
      // over from the database.
      const unchecked = fromMemory !== undefined && (fromMemory.ledger === undefined || fromMemory.ledger.unchecked);
      if (!(error instanceof StaleCredits || (error instanceof TallyError && unchecked))) throw error;
      return spend(false);
    }
  }, { lane: accountLane(scope.appId, input) });
}

export interface RefundInput {
  transactionId: string;
  amount?: number | undefined;
  reason?: string | undefined;
  idempotencyKey?: string | undefined;
}

const REFUNDABLE: readonly TransactionType[] = ["deduct", "debit", "reservation_capture", "reservation_confirm"];

/**
 * Gives back (part of) a spend to the lots that paid for it, last-burned first. Credits whose
 * lot has expired since are not revived in that lot: they come back as a new `refund` lot
 * without expiry, so the customer gets back exactly what the refund says. Refunds of one spend
 * never add up to more than the spend.
 */
export async function refund(scope: Scope, input: RefundInput): Promise<DeductResult> {
  return inTransaction(scope, async (tx, nowMs) => {
    const ctx: LedgerContext = { tx, appId: scope.appId, nowMs };
    const original = await getTransaction(tx, scope.appId, input.transactionId);
    if (original === undefined) throw notFound("TRANSACTION_NOT_FOUND", "transaction", input.transactionId);
    if (input.idempotencyKey !== undefined) {
      await lockBalance(tx, scope.appId, original.accountId, original.unit, nowMs); // see awaitFirstAttempt
      const existing = await findTransactionByKey(tx, scope.appId, input.idempotencyKey);
      if (existing !== undefined) {
        // A retry names the same spend and, if it named an amount, the same amount; anything else reuses the key.
        if (existing.type !== "refund" || existing.refundOf !== original.id || (input.amount !== undefined && input.amount !== existing.amount)) {
          assertSameOperation(existing, { types: ["refund"], accountId: "\u0000" });
        }
        return { transaction: existing, balance: await currentBalance(ctx, original.accountId, original.unit), alreadyProcessed: true };
      }
    }
    if (!REFUNDABLE.includes(original.type)) {
      throw validationError("/transactionId", `a ${original.type} transaction cannot be refunded; only spends can`);
    }
    const ledger = await UnitLedger.open(ctx, original.accountId, original.unit);
    const spent = -original.amount;
    const prior = await listRefundsOf(tx, scope.appId, original.id);
    const refundedSoFar = prior.reduce((sum, t) => sum + t.amount, 0);
    const amount = input.amount ?? spent - refundedSoFar;
    if (amount <= 0 || refundedSoFar + amount > spent) {
      throw new TallyError("REFUND_EXCEEDS_ORIGINAL", `Refund of ${amount} would exceed the original ${spent} (${refundedSoFar} already refunded)`, {
        original: spent,
        refunded: refundedSoFar,
        requested: amount,
      });
    }
    // What each paying lot has had back already. One lot can pay twice in one spend (a confirm
    // takes from its holds, then from the same lot's available credits), so what a lot had back
    // is handed out to its receipt lines in the same last-first order earlier refunds used.
    const returned = new Map<string, number>();
    for (const t of prior) for (const a of t.allocations) returned.set(a.grantId, (returned.get(a.grantId) ?? 0) + a.amount);
    const allocations: Allocation[] = [];
    let left = amount;
    let notRevived = 0;
    for (const a of [...original.allocations].reverse()) {
      if (left === 0) break;
      const already = Math.min(a.amount, returned.get(a.grantId) ?? 0);
      returned.set(a.grantId, (returned.get(a.grantId) ?? 0) - already);
      const room = a.amount - already;
      const take = Math.min(room, left);
      if (take <= 0) continue;
      notRevived += await ledger.restore(a.grantId, take);
      allocations.push({ ...a, amount: take });
      left -= take;
    }
    assert(left === 0, "a refund within the original fits its allocations");
    let grantId: string | null = null;
    const transactionId = newId("transaction", nowMs);
    if (notRevived > 0) {
      const lot = await ledger.addLot({
        amount: notRevived,
        source: "refund",
        priority: 0,
        expiresAtMs: null,
        reference: original.id,
        description: "Refund of credits from an expired lot",
        metadata: {},
        transactionId,
      });
      grantId = lot.id;
    }
    const transaction = await ledger.record({
      id: transactionId,
      type: "refund",
      amount,
      allocations,
      refundOf: original.id,
      grantId,
      idempotencyKey: input.idempotencyKey ?? null,
      description: input.reason ?? null,
      reservationId: original.reservationId,
      operation: original.operation,
    });
    await ledger.finish();
    return { transaction, balance: await ledger.view(), alreadyProcessed: false };
  });
}

/**
 * A grant inside a transaction the caller owns: renewals and order fulfilment grant in the same
 * transaction as their own state change. No "expiresAt in the future" check: a renewal catching
 * up on a missed period grants credits that expire at once, by design. A repeated
 * `idempotencyKey` answers with the first grant.
 */
export async function grantWithin(ctx: LedgerContext, accountId: string, input: Omit<GrantInput, "accountId" | "externalId">): Promise<GrantResult> {
  const { tx, appId, nowMs } = ctx;
  if (input.idempotencyKey !== undefined) {
    await lockBalance(tx, appId, accountId, input.unit, nowMs); // see awaitFirstAttempt
    const existing = await findTransactionByKey(tx, appId, input.idempotencyKey);
    if (existing !== undefined) {
      assertSameOperation(existing, { types: ["grant"], accountId, amount: input.amount, unit: input.unit });
      const [lot] = await getLots(tx, appId, existing.grantId === null ? [] : [existing.grantId]);
      assert(lot !== undefined, "a grant transaction has its lot");
      return { transaction: existing, grant: lot, balance: await currentBalance(ctx, accountId, existing.unit), alreadyProcessed: true };
    }
  }
  return addGrant(ctx, accountId, input, "grant");
}

export interface ClawbackInput {
  accountId: string;
  unit: string;
  /** At most this much is removed (what the order granted). */
  amount: number;
  /** The lot the order granted: burned first. */
  lotId?: string | null | undefined;
  reference?: string | null | undefined;
  description?: string | undefined;
  idempotencyKey?: string | undefined;
}

/**
 * Takes back credits an order granted when its payment is refunded, inside the caller's
 * transaction: first whatever is left of the order's own lot, then (for what the customer
 * already spent from it) other available credits in burn order; never more than the order
 * granted and never more than is available: held credits stay held and nothing goes negative.
 * Returns null when nothing was left to take. Not a spend: spend limits do not count it.
 */
export async function clawbackWithin(ctx: LedgerContext, input: ClawbackInput): Promise<TransactionRecord | null> {
  if (input.idempotencyKey !== undefined) {
    await lockBalance(ctx.tx, ctx.appId, input.accountId, input.unit, ctx.nowMs); // see awaitFirstAttempt
    const existing = await findTransactionByKey(ctx.tx, ctx.appId, input.idempotencyKey);
    if (existing !== undefined) {
      assertSameOperation(existing, { types: ["clawback"], accountId: input.accountId });
      return existing;
    }
  }
  const ledger = await UnitLedger.open(ctx, input.accountId, input.unit);
  const allocations: Allocation[] = [];
  let left = input.amount;
  if (input.lotId != null) {
    const own = await ledger.takeFromLot(input.lotId, left);
    if (own !== null) {
      allocations.push(own);
      left -= own.amount;
    }
  }
  const fromOthers = Math.min(left, ledger.available);
  if (fromOthers > 0) allocations.push(...(await ledger.burn(fromOthers, false)));
  const total = input.amount - left + fromOthers;
  if (total === 0) {
    await ledger.finish();
    return null;
  }
  const transaction = await ledger.record({
    type: "clawback",
    amount: -total,
    allocations,
    idempotencyKey: input.idempotencyKey ?? null,
    reference: input.reference ?? null,
    description: input.description ?? "Credits clawed back after a refund",
  });
  await ledger.finish();
  return transaction;
}

/**
 * @example
 * await clawback(scope, { accountId: "acct_…", unit: "credits", amount: 1000, lotId: "grt_…", idempotencyKey: "clawback:ord_…" });
 */
export async function clawback(scope: Scope, input: ClawbackInput): Promise<TransactionRecord | null> {
  return inTransaction(scope, (tx, nowMs) => clawbackWithin({ tx, appId: scope.appId, nowMs }, input));
}

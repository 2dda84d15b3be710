import type { Sql } from "../store/sql.ts";
import type { Allocation, BalanceRecord, Hold, LotRecord, LotSource, Metadata, ReservationRecord, TransactionRecord, TransactionType } from "../store/records.ts";
import { lockBalance } from "../store/repo/balances.ts";
import { getLots, insertLot, listSpendableLots, saveLot } from "../store/repo/lots.ts";
import { insertTransaction } from "../store/repo/transactions.ts";
import { checkGuard, noteCredits, writeLedger, writeReservationRow, type ReservationWrite, type WriteGuard } from "../store/repo/ledger-writes.ts";
import { listExpiredHeld, saveReservation } from "../store/repo/reservations.ts";
import { nextDueTime, nextHoldExpiry } from "../store/repo/ledger-reads.ts";
import { plainView, viewBalance, type BalanceView } from "./balance-view.ts";
import { assert, insufficientCredits, TallyError } from "./errors.ts";
import { isExpired, planBurn } from "./burn-order.ts";
import { LIMITS } from "./limits.ts";
import { newId } from "./ids.ts";
import { COMMERCE_FLAGS, enforceSpendLimits } from "./spend-limits.ts";
import { maybeStartAutoTopup } from "./auto-topup.ts";
import { writeOutbox } from "./webhooks.ts";

/** What a ledger operation runs with: the open transaction, the application, and "now". */
export interface LedgerContext {
  readonly tx: Sql;
  readonly appId: string;
  readonly nowMs: number;
}

/** Something that happened that outgoing webhooks may announce. */
export interface LedgerEvent {
  readonly type: "credits.expired" | "reservation.expired" | "credits.granted" | "credits.deducted";
  readonly data: Record<string, unknown>;
}

export interface NewTransaction {
  /** Made up front when another row must reference the transaction. */
  id?: string;
  type: TransactionType;
  amount: number;
  allocations?: Allocation[];
  idempotencyKey?: string | null;
  reference?: string | null;
  operation?: string | null;
  description?: string | null;
  metadata?: Metadata;
  reservationId?: string | null;
  refundOf?: string | null;
  grantId?: string | null;
}

export interface NewLot {
  amount: number;
  source: LotSource;
  priority: number;
  expiresAtMs: number | null;
  reference: string | null;
  description: string | null;
  metadata: Metadata;
  transactionId: string;
}

/**
 * One account's credits in one unit, locked for the length of a database transaction.
 *
 * Every change to credits goes through here, so the invariants live here:
 *  - balance = Σ (remaining + held) over the account's lots = Σ amounts of its transactions;
 *  - reserved = Σ held = Σ holds of its held reservations;
 *  - available = balance − reserved ≥ 0, and no lot goes below zero;
 *  - for each lot, remaining + held + consumed + expired = amount.
 * Opening it first settles whatever fell due (expired lots and holds), so callers always see
 * the balance as of `nowMs`, whether or not the sweeper has run.
 */
export class UnitLedger {
  readonly events: LedgerEvent[] = [];
  private readonly lots = new Map<string, LotRecord>();
  /** Whether each lot is stored as live (remaining > 0): its `live` flag is written only when that changes. */
  private readonly storedLive = new Map<string, boolean>();
  private readonly dirtyLots = new Set<string>();
  private spendableLoaded = false;
  private nextDueDirty = false;
  /** Whether opening settled something that fell due (which may have changed the account's reservations). */
  private settled = false;
  /** Credits spent (burned or taken from holds) by this operation: what spend limits count. */
  private spent = 0;
  private readonly availableAtOpen: number;
  /** Transactions recorded with `deferWrite`: written by `finish`, together with the lots and balance. */
  private readonly deferred: TransactionRecord[] = [];
  /** The reservation this operation made or changed (`writeReservation`): written by `finish` too. */
  private reservationWrite: ReservationWrite | undefined;
  /** The earliest expiry among the other held reservations, when read with the lock (`knowOtherHolds`). */
  private otherHolds: { exceptId: string; ms: number | null } | undefined;
  private constructor(
    private readonly ctx: LedgerContext,
    readonly state: BalanceRecord,
    /** Set when `state` and the lots came from the batch's memory: the write must check it. */
    private guard: WriteGuard | undefined,
  ) {
    this.availableAtOpen = state.balance - state.reserved;
  }

  /**
   * `locked`: the balance row, when the caller has just locked it in this transaction (a keyed
   * operation locks before its key lookup) and changed nothing since: saves a second lock.
   * `spendable`: the account's spendable lots, when the caller read them after taking that lock
   * (see `readForSpend`): saves reading them again.
   * `guard`: `locked` and `spendable` came from the batch's memory, not the database
   * (`lockForSpend`); `finish` has its write check them.
   */
  static async open(ctx: LedgerContext, accountId: string, unit: string, locked?: BalanceRecord, spendable?: readonly LotRecord[], guard?: WriteGuard): Promise<UnitLedger> {
    assert(locked === undefined || (locked.accountId === accountId && locked.unit === unit), "a pre-locked balance is this account's and unit's");
    assert(spendable === undefined || locked !== undefined, "spendable lots are read under the caller's lock");
    assert(guard === undefined || spendable !== undefined, "a guarded ledger has every live lot in hand");
    const state = locked ?? (await lockBalance(ctx.tx, ctx.appId, accountId, unit, ctx.nowMs));
    const ledger = new UnitLedger(ctx, state, guard);
    if (spendable !== undefined) ledger.useSpendable(spendable);
    if (state.nextDueAtMs !== null && state.nextDueAtMs <= ctx.nowMs) {
      // Settling writes, and what a guard vouches for must be checked before anything is written.
      assert(guard === undefined, "a guarded ledger has nothing due");
      await ledger.settle();
    }
    return ledger;
  }

  /** True when opening the ledger settled expiries: what the caller read before it may have changed. */
  get settledOnOpen(): boolean {
    return this.settled;
  }

  get accountId(): string {
    return this.state.accountId;
  }
  get unit(): string {
    return this.state.unit;
  }
  get available(): number {
    return this.state.balance - this.state.reserved;
  }

  /**
   * True while the ledger works from the batch's memory and nothing of it has been checked
   * against the database yet (its guard is unspent): an error now may come of a stale note or of
   * a key already taken, and nothing has been written, so the operation should start over from
   * the database rather than answer it.
   */
  get unchecked(): boolean {
    return this.guard !== undefined;
  }

  /** Expires holds and lots whose time has come, recording what was lost. */
  private async settle(): Promise<void> {
    const { tx, appId, nowMs } = this.ctx;
    this.settled = true;
    const expiredHolds = await listExpiredHeld(tx, appId, this.accountId, this.unit, nowMs);
    for (const reservation of expiredHolds) {
      await this.resolveHeld(reservation, "expired", null);
      await saveReservation(tx, appId, reservation);
      this.events.push({ type: "reservation.expired", data: { reservationId: reservation.id, accountId: this.accountId, unit: this.unit } });
    }
    await this.loadSpendable();
    for (const lot of this.lots.values()) {
      if (lot.remaining > 0 && isExpired(lot, nowMs)) await this.expireRemaining(lot);
    }
    this.nextDueDirty = true;
  }

  private async loadSpendable(): Promise<void> {
    if (this.spendableLoaded) return;
    this.useSpendable(await listSpendableLots(this.ctx.tx, this.ctx.appId, this.accountId, this.unit));
  }

  /**
   * Loads every live lot where an operation on holds needs only some of them: with all of them in
   * hand, `finish` works out the next due time from memory and the other holds' earliest expiry
   * (known from the lock's statement, or read), so nothing need be written before it (on
   * PostgreSQL it all goes in the one combined write). The holds' lots are nearly always live, so
   * this read replaces their own. An account past the live-lot limit, which no spend could use
   * either, keeps to the lots it needs.
   */
  private async preferSpendable(): Promise<void> {
    if (this.spendableLoaded) return;
    const lots = await listSpendableLots(this.ctx.tx, this.ctx.appId, this.accountId, this.unit, LIMITS.lotsPerOperationMax + 1);
    if (lots.length <= LIMITS.lotsPerOperationMax) this.useSpendable(lots);
  }

  private useSpendable(lots: readonly LotRecord[]): void {
    if (lots.length > LIMITS.lotsPerOperationMax) {
      throw new TallyError("VALIDATION_ERROR", `account has more than ${LIMITS.lotsPerOperationMax} live lots in ${this.unit}`);
    }
    for (const lot of lots) {
      assert(lot.accountId === this.accountId && lot.unit === this.unit, "spendable lots are this account's and unit's");
      if (!this.lots.has(lot.id)) this.keep(lot);
    }
    this.spendableLoaded = true;
  }

  private async loadLots(ids: readonly string[]): Promise<void> {
    const missing = ids.filter((id) => !this.lots.has(id));
    for (const lot of await getLots(this.ctx.tx, this.ctx.appId, missing)) this.keep(lot);
    for (const id of ids) assert(this.lots.has(id), `lot ${id} exists`);
  }

  /** Holds a lot as stored, for the length of the operation. */
  private keep(lot: LotRecord): void {
    this.lots.set(lot.id, lot);
    this.storedLive.set(lot.id, lot.remaining > 0);
  }

  private lot(id: string): LotRecord {
    const lot = this.lots.get(id);
    assert(lot !== undefined, `lot ${id} loaded`);
    return lot;
  }

  private touch(lot: LotRecord): void {
    assert(lot.remaining >= 0 && lot.held >= 0 && lot.consumed >= 0 && lot.expired >= 0, `lot ${lot.id} has no negative part`);
    assert(lot.remaining + lot.held + lot.consumed + lot.expired === lot.amount, `lot ${lot.id} parts add up to its amount`);
    this.dirtyLots.add(lot.id);
    if (lot.remaining > 0 && lot.expiresAtMs !== null) this.dueAt(lot.expiresAtMs);
  }

  /** Makes sure the account is settled again no later than `ms`. */
  private dueAt(ms: number): void {
    if (this.state.nextDueAtMs === null || ms < this.state.nextDueAtMs) this.state.nextDueAtMs = ms;
  }

  private async expireRemaining(lot: LotRecord): Promise<void> {
    const amount = lot.remaining;
    assert(amount > 0, "expiring a positive amount");
    lot.remaining = 0;
    lot.expired += amount;
    this.touch(lot);
    this.state.balance -= amount;
    await this.record({
      type: "expiry",
      amount: -amount,
      grantId: lot.id,
      allocations: [toAllocation(lot, amount)],
      description: "Credits expired",
    });
    this.events.push({ type: "credits.expired", data: { accountId: this.accountId, unit: this.unit, grantId: lot.id, amount } });
  }

  /**
   * Plans a burn of `amount` from available credits without changing anything.
   * Throws INSUFFICIENT_CREDITS when the account cannot pay.
   */
  async plan(amount: number): Promise<Allocation[]> {
    await this.loadSpendable();
    const plan = planBurn([...this.lots.values()], amount, this.ctx.nowMs);
    assert(plan.available === this.available, `available ${this.available} equals the unheld credits of live lots ${plan.available}`);
    if (plan.shortBy > 0) throw insufficientCredits(plan.available, amount, this.unit);
    return plan.steps.map((s) => toAllocation(s.lot, s.amount));
  }

  /**
   * Burns `amount` of available credits in burn order; returns the receipt. A clawback is not a
   * spend (`countsAsSpend: false`): it does not count against spend limits.
   */
  async burn(amount: number, countsAsSpend = true): Promise<Allocation[]> {
    const allocations = await this.plan(amount);
    if (countsAsSpend) this.spent += amount;
    for (const a of allocations) {
      const lot = this.lot(a.grantId);
      lot.remaining -= a.amount;
      lot.consumed += a.amount;
      this.touch(lot);
    }
    this.state.balance -= amount;
    return allocations;
  }

  /** Moves `amount` of available credits into holds for a reservation. */
  async hold(amount: number): Promise<Hold[]> {
    const allocations = await this.plan(amount);
    for (const a of allocations) {
      const lot = this.lot(a.grantId);
      lot.remaining -= a.amount;
      lot.held += a.amount;
      this.touch(lot);
    }
    this.state.reserved += amount;
    return allocations.map((a) => ({ lotId: a.grantId, amount: a.amount }));
  }

  /**
   * Spends up to `amount` from a reservation's holds (in the order they were taken) and returns
   * the receipt and the holds left over.
   */
  async spendHolds(holds: readonly Hold[], amount: number): Promise<{ allocations: Allocation[]; left: Hold[] }> {
    await this.preferSpendable();
    await this.loadLots(holds.map((h) => h.lotId));
    const allocations: Allocation[] = [];
    const left: Hold[] = [];
    let need = amount;
    for (const h of holds) {
      const take = Math.min(need, h.amount);
      if (take > 0) {
        const lot = this.lot(h.lotId);
        lot.held -= take;
        lot.consumed += take;
        this.touch(lot);
        allocations.push(toAllocation(lot, take));
        need -= take;
      }
      if (h.amount > take) left.push({ lotId: h.lotId, amount: h.amount - take });
    }
    assert(need === 0, "holds cover the amount spent from them");
    // The hold that set the due time may be gone: recompute it, or every later read would keep
    // asking what expires next.
    this.nextDueDirty = true;
    const spent = amount;
    this.spent += spent;
    this.state.reserved -= spent;
    this.state.balance -= spent;
    return { allocations, left };
  }

  /** Returns held credits to their lots; credits of lots that expired meanwhile expire now. */
  async release(holds: readonly Hold[]): Promise<void> {
    await this.preferSpendable();
    await this.loadLots(holds.map((h) => h.lotId));
    this.nextDueDirty = true;
    for (const h of holds) {
      const lot = this.lot(h.lotId);
      lot.held -= h.amount;
      lot.remaining += h.amount;
      this.touch(lot);
      this.state.reserved -= h.amount;
      if (isExpired(lot, this.ctx.nowMs)) await this.expireRemaining(lot);
    }
  }

  /** Gives credits back to lots that paid for a spend; an expired lot is not revived (returns what it could not take). */
  async restore(lotId: string, amount: number): Promise<number> {
    await this.loadLots([lotId]);
    const lot = this.lot(lotId);
    if (isExpired(lot, this.ctx.nowMs)) return amount;
    assert(lot.consumed >= amount, `lot ${lot.id} consumed at least what is restored`);
    lot.consumed -= amount;
    lot.remaining += amount;
    this.touch(lot);
    this.state.balance += amount;
    return 0;
  }

  /** Removes up to `max` unheld credits from one lot (a clawback of that lot); null when it has none left. */
  async takeFromLot(lotId: string, max: number): Promise<Allocation | null> {
    await this.loadLots([lotId]);
    const lot = this.lot(lotId);
    if (isExpired(lot, this.ctx.nowMs)) return null;
    const take = Math.min(max, lot.remaining);
    if (take <= 0) return null;
    lot.remaining -= take;
    lot.consumed += take;
    this.touch(lot);
    this.state.balance -= take;
    return toAllocation(lot, take);
  }

  /** Adds a new lot of credits. */
  async addLot(input: NewLot): Promise<LotRecord> {
    assert(input.amount > 0, "a lot holds a positive amount");
    if (this.state.balance + input.amount > LIMITS.balanceMax) {
      throw new TallyError("VALIDATION_ERROR", `balance would exceed ${LIMITS.balanceMax}`, {
        issues: [{ path: "/amount", message: "balance would exceed the largest safe integer" }],
      });
    }
    const lot: LotRecord = {
      id: newId("grant", this.ctx.nowMs),
      accountId: this.accountId,
      unit: this.unit,
      amount: input.amount,
      remaining: input.amount,
      held: 0,
      consumed: 0,
      expired: 0,
      priority: input.priority,
      expiresAtMs: input.expiresAtMs,
      source: input.source,
      reference: input.reference,
      description: input.description,
      metadata: input.metadata,
      transactionId: input.transactionId,
      createdAtMs: this.ctx.nowMs,
    };
    await insertLot(this.ctx.tx, this.ctx.appId, lot);
    this.keep(lot);
    this.state.balance += input.amount;
    if (lot.expiresAtMs !== null) this.dueAt(lot.expiresAtMs);
    return lot;
  }

  /** Resolves a held reservation: spends nothing, releases every hold. */
  async resolveHeld(reservation: ReservationRecord, status: "canceled" | "expired", resolutionKey: string | null): Promise<void> {
    assert(reservation.status === "held", "only a held reservation is resolved");
    await this.release(reservation.holds);
    reservation.holds = [];
    reservation.status = status;
    reservation.resolvedAtMs = this.ctx.nowMs;
    reservation.resolution = status === "canceled" ? "cancel" : "expire";
    reservation.resolutionKey = resolutionKey;
  }

  noteHoldExpiry(expiresAtMs: number): void {
    this.dueAt(expiresAtMs);
  }

  /**
   * Tells the ledger the earliest expiry among the account's held reservations other than
   * `exceptId`, read under its lock with the lock's statement (PostgreSQL), so that `finish`
   * need not read it. Only before anything changed them: not after settling.
   */
  knowOtherHolds(exceptId: string, ms: number | null): void {
    assert(!this.settled, "settling may have resolved other holds");
    this.otherHolds = { exceptId, ms };
  }

  /**
   * Has `finish` write the reservation this operation made (`insert`) or changed, with the
   * ledger: on PostgreSQL in its one statement. Nothing may read the reservation back before.
   */
  writeReservation(reservation: ReservationRecord, insert: boolean): void {
    assert(reservation.accountId === this.accountId && reservation.unit === this.unit, "the reservation holds credits in this ledger");
    assert(this.reservationWrite === undefined || this.reservationWrite.record === reservation, "one reservation per operation");
    this.reservationWrite = { record: reservation, insert: insert || this.reservationWrite?.insert === true };
  }

  /**
   * Appends a transaction; its `balanceAfter` is the balance as it stands now. `deferWrite`: the
   * row is written by `finish`, in the same statement as the lots and the balance where the
   * database allows it; only for callers that read nothing back before `finish`.
   */
  async record(input: NewTransaction, options?: { deferWrite?: boolean }): Promise<TransactionRecord> {
    const txn: TransactionRecord = {
      id: input.id ?? newId("transaction", this.ctx.nowMs),
      accountId: this.accountId,
      unit: this.unit,
      type: input.type,
      amount: input.amount,
      balanceAfter: this.state.balance,
      idempotencyKey: input.idempotencyKey ?? null,
      reference: input.reference ?? null,
      operation: input.operation ?? null,
      description: input.description ?? null,
      metadata: input.metadata ?? {},
      reservationId: input.reservationId ?? null,
      refundOf: input.refundOf ?? null,
      grantId: input.grantId ?? null,
      allocations: input.allocations ?? [],
      createdAtMs: this.ctx.nowMs,
    };
    if (options?.deferWrite === true) this.deferred.push(txn);
    else await insertTransaction(this.ctx.tx, this.ctx.appId, txn);
    const announced = txn.type === "grant" || txn.type === "credit" ? "credits.granted" : SPEND_TYPES.has(txn.type) ? "credits.deducted" : null;
    if (announced !== null) {
      this.events.push({
        type: announced,
        data: { transactionId: txn.id, accountId: txn.accountId, unit: txn.unit, type: txn.type, amount: txn.amount, balanceAfter: txn.balanceAfter, operation: txn.operation },
      });
    }
    return txn;
  }

  /**
   * The balance as it stands now, for the operation's answer (after `finish`, or for a dry run).
   * When every live lot is in hand, `expiringNext` is worked out from them; else it is read.
   */
  async view(): Promise<BalanceView> {
    if (!this.spendableLoaded) return viewBalance(this.ctx.tx, this.ctx.appId, this.state, this.ctx.nowMs);
    const view = plainView(this.state);
    if (this.state.nextDueAtMs !== null) {
      const next = this.expiringNextInHand();
      if (next !== null) view.expiringNext = next;
    }
    return view;
  }

  /** The earliest expiry of a live lot, from the lots in hand (all live ones are): `nextDueTime`'s lots half. */
  private earliestLotExpiry(): number | null {
    assert(this.spendableLoaded, "every live lot is in hand");
    let earliestMs: number | null = null;
    for (const lot of this.lots.values()) {
      if (lot.remaining > 0 && lot.expiresAtMs !== null && (earliestMs === null || lot.expiresAtMs < earliestMs)) earliestMs = lot.expiresAtMs;
    }
    return earliestMs;
  }

  /** The unheld credits that expire first, from the lots in hand (all live ones are). */
  private expiringNextInHand(): { amount: number; expiresAtMs: number } | null {
    let expiresAtMs = Infinity;
    let amount = 0;
    for (const lot of this.lots.values()) {
      if (lot.remaining <= 0 || lot.expiresAtMs === null || lot.expiresAtMs <= this.ctx.nowMs) continue;
      if (lot.expiresAtMs < expiresAtMs) {
        expiresAtMs = lot.expiresAtMs;
        amount = 0;
      }
      if (lot.expiresAtMs === expiresAtMs) amount += lot.remaining;
    }
    return expiresAtMs === Infinity ? null : { amount, expiresAtMs };
  }

  /**
   * Writes every change back, the balance row always, changed or not: spends on PostgreSQL tell
   * stale reads by its version (`lockAndReadForSpend`). Call once, last. Throws `StaleCredits`,
   * having written nothing, when the ledger was opened from the batch's memory and its guard no
   * longer holds.
   */
  async finish(): Promise<BalanceRecord> {
    const { tx, appId, nowMs } = this.ctx;
    const flags = this.state.commerceFlags ?? 0;
    const commerceHooks = this.spent > 0 && (flags & (COMMERCE_FLAGS.spendLimit | COMMERCE_FLAGS.autoTopup)) !== 0;
    const lots = [...this.dirtyLots].map((id) => {
      const lot = this.lot(id);
      return { lot, liveChanged: lot.remaining > 0 !== this.storedLive.get(id) };
    });
    // The guard rides on the ledger's one combined write; when other writes (or the commerce
    // hooks, which act on the ledger) come before it, it is checked first on its own.
    if (this.guard !== undefined && (this.nextDueDirty || commerceHooks)) {
      await checkGuard(tx, appId, this.state, this.guard);
      this.guard = undefined;
    }
    const pending = this.reservationWrite?.record;
    if (this.nextDueDirty && this.spendableLoaded) {
      // Every live lot is in hand: only the other held reservations are read, and this
      // operation's own reservation, lots and transaction need not be written first.
      const known = this.otherHolds !== undefined && this.otherHolds.exceptId === pending?.id ? this.otherHolds : undefined;
      const othersMs = known !== undefined ? known.ms : await nextHoldExpiry(tx, appId, this.accountId, this.unit, pending?.id);
      this.state.nextDueAtMs = earliest(earliest(this.earliestLotExpiry(), othersMs), pending?.status === "held" ? pending.expiresAtMs : null);
      this.nextDueDirty = false;
    }
    // Else the next due time is read back from the lots and reservations tables, and the
    // commerce hooks may act on the ledger: both need every row written first. The plain spend
    // (the hot path) needs neither.
    if (this.nextDueDirty || commerceHooks) {
      const r = this.reservationWrite;
      this.reservationWrite = undefined;
      if (r !== undefined) await writeReservationRow(tx, appId, r);
      for (const txn of this.deferred.splice(0)) await insertTransaction(tx, appId, txn);
      for (const w of lots.splice(0)) await saveLot(tx, appId, w.lot, w.liveChanged);
    }
    if (this.nextDueDirty) this.state.nextDueAtMs = await nextDueTime(tx, appId, this.accountId, this.unit);
    assert(this.state.balance >= 0, `balance ${this.state.balance} ≥ 0`);
    assert(this.state.reserved >= 0, `reserved ${this.state.reserved} ≥ 0`);
    assert(this.available >= 0, `available ${this.available} ≥ 0`);
    assert(Number.isSafeInteger(this.state.balance), "balance is a safe integer");
    // Accounts with neither a spend limit nor auto top-up skip both checks without a query.
    if (this.spent > 0 && (flags & COMMERCE_FLAGS.spendLimit) !== 0) await enforceSpendLimits(this.ctx, this.accountId, this.unit, this.spent);
    if (this.spent > 0 && (flags & COMMERCE_FLAGS.autoTopup) !== 0) await maybeStartAutoTopup(this.ctx, this.accountId, this.unit, this.available);
    const guard = this.guard;
    this.guard = undefined;
    const reservation = this.reservationWrite;
    this.reservationWrite = undefined;
    const version = await writeLedger(tx, appId, { transactions: this.deferred.splice(0), lots, balance: this.state, reservation }, nowMs, guard);
    // After the ledger's write, which may be guarded: a guard that fails must find nothing written.
    await writeOutbox(this.ctx, this.events, { accountId: this.accountId, unit: this.unit, availableBefore: this.availableAtOpen, availableAfter: this.available });
    noteCredits(tx, appId, this.state, this.spendableLoaded ? () => [...this.lots.values()].filter((lot) => lot.remaining > 0) : undefined, version);
    return this.state;
  }
}

const SPEND_TYPES: ReadonlySet<TransactionType> = new Set<TransactionType>(["deduct", "debit", "reservation_capture", "reservation_confirm"]);

function earliest(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

export function toAllocation(lot: LotRecord, amount: number): Allocation {
  return { grantId: lot.id, amount, source: lot.source, expiresAtMs: lot.expiresAtMs };
}

/**
 * The ledger as a plain in-memory state machine: what every reply of the real domain code must
 * say, written from API.md and the domain's documented rules, independently of `src/domain`.
 *
 * It deliberately works differently from the real code so that the two do not share mistakes:
 *  - it settles EVERY account at every step (expired holds released, expired lots written off),
 *    where the real code settles an account only when it is touched or swept;
 *  - refunds track what was returned per receipt line, where the real code tracks it per lot;
 *  - balances are always recomputed from the lots, never kept as running totals.
 *
 * Identities (ids of lots, transactions, reservations) come from the real system: the model is
 * told them after the fact and only ever compares amounts, statuses and error codes.
 */

export type Code =
  | "VALIDATION_ERROR"
  | "INSUFFICIENT_CREDITS"
  | "ACCOUNT_NOT_FOUND"
  | "TRANSACTION_NOT_FOUND"
  | "RESERVATION_NOT_FOUND"
  | "IDEMPOTENCY_KEY_REUSED"
  | "RESERVATION_NOT_HELD"
  | "RESERVATION_EXPIRED"
  | "REFUND_EXCEEDS_ORIGINAL";

export interface Failure {
  ok: false;
  code: Code;
  /** For 402: what was available and what was asked. */
  details?: { available: number; required: number };
}

export type Expect<T> = { ok: true; value: T } | Failure;

export interface BalanceNow {
  balance: number;
  reserved: number;
  available: number;
}

export type Line = [lotId: string, amount: number];

interface Lot {
  id: string;
  account: string;
  unit: string;
  amount: number;
  remaining: number;
  held: number;
  consumed: number;
  expired: number;
  priority: number;
  expiresAt: number | null;
  createdAt: number;
}

interface Reservation {
  id: string;
  account: string;
  unit: string;
  amount: number;
  captured: number;
  status: "held" | "confirmed" | "canceled" | "expired";
  expiresAt: number;
  confirmedAmount: number | null;
  /** Credits still held, per lot, in the order they were taken. */
  holds: Array<{ lot: string; amount: number }>;
  key: string | null;
  resolution: "confirm" | "cancel" | "expire" | null;
  resolutionKey: string | null;
  transaction: string | null;
}

type TxnType = "grant" | "credit" | "deduct" | "debit" | "refund" | "reservation_capture" | "reservation_confirm";

interface Txn {
  id: string;
  type: TxnType;
  account: string;
  unit: string;
  /** Signed, as the ledger records it. */
  amount: number;
  /** The receipt: which lots paid (or, for a refund, which lots were paid back). */
  lines: Line[];
  /** For spends: how much of each receipt line refunds have returned so far. */
  returned: number[];
  reservation: string | null;
  refundOf: string | null;
  /** For grants: the lot. For refunds: the new lot made for credits of expired lots, if any. */
  lot: string | null;
}

const REFUNDABLE: readonly TxnType[] = ["deduct", "debit", "reservation_capture", "reservation_confirm"];

const fail = (code: Code, details?: { available: number; required: number }): Failure =>
  details === undefined ? { ok: false, code } : { ok: false, code, details };

export interface GrantOut {
  txn: string;
  type: TxnType;
  amount: number;
  lot: string;
  balance: BalanceNow;
  alreadyProcessed: boolean;
}
export interface SpendOut {
  txn: string;
  type: TxnType;
  amount: number;
  lines: Line[];
  balance: BalanceNow;
  alreadyProcessed: boolean;
}
export interface DryRunOut {
  wouldSucceed: boolean;
  lines: Line[];
  balance: BalanceNow;
}
export interface ReservationOut {
  rsv: string;
  status: Reservation["status"];
  amount: number;
  captured: number;
  confirmedAmount: number | null;
  expiresAt: number;
  balance: BalanceNow;
  alreadyProcessed: boolean;
}
export interface SettleOut extends ReservationOut {
  /** The spend's transaction (confirm, capture), when there is one. */
  txn: string | null;
  txnAmount: number | null;
  lines: Line[];
}
export interface RefundOut extends SpendOut {
  /** True when credits of expired lots came back as a new `refund` lot. */
  newLot: boolean;
}

/** Ids the real system gave the objects an operation created (used only when the model creates them too). */
export interface NewIds {
  txn?: string | undefined;
  lot?: string | undefined;
  rsv?: string | undefined;
}

export class LedgerModel {
  now: number;
  private readonly accounts = new Set<string>();
  readonly lots = new Map<string, Lot>();
  readonly reservations = new Map<string, Reservation>();
  readonly txns = new Map<string, Txn>();
  /** Ledger idempotency keys (on transactions), per application forever. */
  private readonly txnKeys = new Map<string, string>();
  /** Reservation idempotency keys: a namespace of their own. */
  private readonly rsvKeys = new Map<string, string>();
  private placeholder = 0;

  constructor(nowMs: number) {
    this.now = nowMs;
  }

  addAccount(id: string): void {
    this.accounts.add(id);
  }

  advance(ms: number): void {
    this.now += ms;
  }

  // ── reading ─────────────────────────────────────────────────────────────────────────────

  /** The balance as of now: credits in lots, of which held; expired lots count for nothing. */
  balance(account: string, unit: string): BalanceNow {
    this.settle();
    let balance = 0;
    let reserved = 0;
    for (const l of this.lots.values()) {
      if (l.account !== account || l.unit !== unit) continue;
      balance += l.remaining + l.held;
      reserved += l.held;
    }
    return { balance, reserved, available: balance - reserved };
  }

  reservationView(id: string): Expect<{ status: Reservation["status"]; captured: number; confirmedAmount: number | null; expiresAt: number }> {
    this.settle();
    const r = this.reservations.get(id);
    if (r === undefined) return fail("RESERVATION_NOT_FOUND");
    return { ok: true, value: { status: r.status, captured: r.captured, confirmedAmount: r.confirmedAmount, expiresAt: r.expiresAt } };
  }

  /** Everything the final state comparison looks at, keyed by real ids. */
  snapshot(): {
    lots: Map<string, { remaining: number; held: number; consumed: number; expired: number }>;
    reservations: Map<string, { status: string; captured: number; held: number }>;
    balances: Map<string, BalanceNow>;
  } {
    this.settle();
    const lots = new Map<string, { remaining: number; held: number; consumed: number; expired: number }>();
    const balances = new Map<string, BalanceNow>();
    for (const l of this.lots.values()) {
      lots.set(l.id, { remaining: l.remaining, held: l.held, consumed: l.consumed, expired: l.expired });
      const k = `${l.account}/${l.unit}`;
      if (!balances.has(k)) balances.set(k, this.balance(l.account, l.unit));
    }
    const reservations = new Map<string, { status: string; captured: number; held: number }>();
    for (const r of this.reservations.values()) {
      reservations.set(r.id, { status: r.status, captured: r.captured, held: r.holds.reduce((s, h) => s + h.amount, 0) });
    }
    return { lots, reservations, balances };
  }

  /** Checks the model against itself; a failure here is a bug in the model, not in Tally. */
  selfCheck(): void {
    for (const l of this.lots.values()) {
      if (l.remaining < 0 || l.held < 0 || l.consumed < 0 || l.expired < 0 || l.remaining + l.held + l.consumed + l.expired !== l.amount) {
        throw new Error(`model: lot ${l.id} parts do not add up: ${JSON.stringify(l)}`);
      }
    }
    const heldByLot = new Map<string, number>();
    for (const r of this.reservations.values()) {
      if (r.status !== "held" && r.holds.length > 0) throw new Error(`model: ${r.status} reservation ${r.id} still holds credits`);
      for (const h of r.holds) heldByLot.set(h.lot, (heldByLot.get(h.lot) ?? 0) + h.amount);
    }
    for (const l of this.lots.values()) {
      if ((heldByLot.get(l.id) ?? 0) !== l.held) throw new Error(`model: lot ${l.id} held ${l.held} ≠ holds ${heldByLot.get(l.id) ?? 0}`);
    }
  }

  // ── time ────────────────────────────────────────────────────────────────────────────────

  private expired(expiresAt: number | null): boolean {
    return expiresAt !== null && expiresAt <= this.now;
  }

  /** What the contract says has happened by now: holds past expiresAt are released, lots past it lost. */
  private settle(): void {
    for (const r of this.reservations.values()) {
      if (r.status === "held" && this.expired(r.expiresAt)) {
        this.releaseAll(r);
        r.status = "expired";
        r.resolution = "expire";
        r.resolutionKey = null;
      }
    }
    for (const l of this.lots.values()) {
      if (l.remaining > 0 && this.expired(l.expiresAt)) {
        l.expired += l.remaining;
        l.remaining = 0;
      }
    }
  }

  private releaseAll(r: Reservation): void {
    for (const h of r.holds) {
      const lot = this.lot(h.lot);
      lot.held -= h.amount;
      // Credits of a lot that expired while they were held are lost the moment they come back.
      if (this.expired(lot.expiresAt)) lot.expired += h.amount;
      else lot.remaining += h.amount;
    }
    r.holds = [];
  }

  private lot(id: string): Lot {
    const l = this.lots.get(id);
    if (l === undefined) throw new Error(`model: unknown lot ${id}`);
    return l;
  }

  private id(given: string | undefined, kind: string): string {
    return given ?? `${kind}_unknown_${++this.placeholder}`;
  }

  // ── spending ────────────────────────────────────────────────────────────────────────────

  /** Live lots of an account with unheld credits, cheapest-to-lose first: the contract's burn order. */
  private burnOrder(account: string, unit: string): Lot[] {
    const never = Number.POSITIVE_INFINITY;
    return [...this.lots.values()]
      .filter((l) => l.account === account && l.unit === unit && l.remaining > 0 && !this.expired(l.expiresAt))
      .sort(
        (a, b) =>
          a.priority - b.priority ||
          (a.expiresAt ?? never) - (b.expiresAt ?? never) ||
          a.createdAt - b.createdAt ||
          (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
      );
  }

  private available(account: string, unit: string): number {
    return this.burnOrder(account, unit).reduce((s, l) => s + l.remaining, 0);
  }

  /** Which lots would pay for `amount`; undefined when they cannot. */
  private plan(account: string, unit: string, amount: number): Line[] | undefined {
    const lines: Line[] = [];
    let left = amount;
    for (const l of this.burnOrder(account, unit)) {
      if (left === 0) break;
      const take = Math.min(left, l.remaining);
      lines.push([l.id, take]);
      left -= take;
    }
    return left === 0 ? lines : undefined;
  }

  private short(account: string, unit: string, required: number): Failure {
    return fail("INSUFFICIENT_CREDITS", { available: this.available(account, unit), required });
  }

  private record(txn: Omit<Txn, "returned">): Txn {
    const full: Txn = { ...txn, returned: txn.lines.map(() => 0) };
    this.txns.set(full.id, full);
    return full;
  }

  private keyed(key: string | null, txn: Txn): void {
    if (key !== null) this.txnKeys.set(key, txn.id);
  }

  /** A ledger key seen before: the same operation (type, account, unit, amount) is a replay, anything else a reuse. */
  private previous(key: string | null, type: TxnType, account: string, unit: string, amount: number): Txn | Failure | undefined {
    if (key === null) return undefined;
    const id = this.txnKeys.get(key);
    if (id === undefined) return undefined;
    const t = this.txns.get(id)!;
    if (t.type !== type || t.account !== account || t.unit !== unit || Math.abs(t.amount) !== amount) return fail("IDEMPOTENCY_KEY_REUSED");
    return t;
  }

  // ── operations ──────────────────────────────────────────────────────────────────────────

  grant(
    input: { account: string; unit: string; amount: number; priority: number; expiresAt: number | null; key: string | null; type: "grant" | "credit" },
    ids: NewIds,
  ): Expect<GrantOut> {
    this.settle();
    if (!this.accounts.has(input.account)) return fail("ACCOUNT_NOT_FOUND");
    const seen = this.previous(input.key, input.type, input.account, input.unit, input.amount);
    if (seen !== undefined) {
      if ("ok" in seen) return seen;
      return { ok: true, value: { txn: seen.id, type: seen.type, amount: seen.amount, lot: seen.lot!, balance: this.balance(seen.account, seen.unit), alreadyProcessed: true } };
    }
    // After the key: the retry of a grant whose lot has expired since is a replay, not a 400.
    if (input.expiresAt !== null && input.expiresAt <= this.now) return fail("VALIDATION_ERROR");
    const lot: Lot = {
      id: this.id(ids.lot, "grt"),
      account: input.account,
      unit: input.unit,
      amount: input.amount,
      remaining: input.amount,
      held: 0,
      consumed: 0,
      expired: 0,
      priority: input.priority,
      expiresAt: input.expiresAt,
      createdAt: this.now,
    };
    this.lots.set(lot.id, lot);
    const txn = this.record({
      id: this.id(ids.txn, "txn"),
      type: input.type,
      account: input.account,
      unit: input.unit,
      amount: input.amount,
      lines: [[lot.id, input.amount]],
      reservation: null,
      refundOf: null,
      lot: lot.id,
    });
    this.keyed(input.key, txn);
    return { ok: true, value: { txn: txn.id, type: txn.type, amount: txn.amount, lot: lot.id, balance: this.balance(input.account, input.unit), alreadyProcessed: false } };
  }

  deduct(input: { account: string; unit: string; amount: number; key: string | null; type: "deduct" | "debit" }, ids: NewIds): Expect<SpendOut> {
    this.settle();
    if (!this.accounts.has(input.account)) return fail("ACCOUNT_NOT_FOUND");
    const seen = this.previous(input.key, input.type, input.account, input.unit, input.amount);
    if (seen !== undefined) {
      if ("ok" in seen) return seen;
      return { ok: true, value: this.spendOut(seen, true) };
    }
    const lines = this.plan(input.account, input.unit, input.amount);
    if (lines === undefined) return this.short(input.account, input.unit, input.amount);
    for (const [id, amount] of lines) {
      const l = this.lot(id);
      l.remaining -= amount;
      l.consumed += amount;
    }
    const txn = this.record({
      id: this.id(ids.txn, "txn"),
      type: input.type,
      account: input.account,
      unit: input.unit,
      amount: -input.amount,
      lines,
      reservation: null,
      refundOf: null,
      lot: null,
    });
    this.keyed(input.key, txn);
    return { ok: true, value: this.spendOut(txn, false) };
  }

  dryRun(input: { account: string; unit: string; amount: number }): Expect<DryRunOut> {
    this.settle();
    if (!this.accounts.has(input.account)) return fail("ACCOUNT_NOT_FOUND");
    const lines = this.plan(input.account, input.unit, input.amount);
    return { ok: true, value: { wouldSucceed: lines !== undefined, lines: lines ?? [], balance: this.balance(input.account, input.unit) } };
  }

  private spendOut(t: Txn, alreadyProcessed: boolean): SpendOut {
    return { txn: t.id, type: t.type, amount: t.amount, lines: t.lines, balance: this.balance(t.account, t.unit), alreadyProcessed };
  }

  reserve(input: { account: string; unit: string; amount: number; ttlSeconds: number; key: string | null }, ids: NewIds): Expect<ReservationOut> {
    this.settle();
    if (!this.accounts.has(input.account)) return fail("ACCOUNT_NOT_FOUND");
    if (input.key !== null) {
      const id = this.rsvKeys.get(input.key);
      if (id !== undefined) {
        const r = this.reservations.get(id)!;
        if (r.account !== input.account || r.unit !== input.unit || r.amount !== input.amount) return fail("IDEMPOTENCY_KEY_REUSED");
        return { ok: true, value: this.reservationOut(r, true) };
      }
    }
    const lines = this.plan(input.account, input.unit, input.amount);
    if (lines === undefined) return this.short(input.account, input.unit, input.amount);
    for (const [id, amount] of lines) {
      const l = this.lot(id);
      l.remaining -= amount;
      l.held += amount;
    }
    const r: Reservation = {
      id: this.id(ids.rsv, "rsv"),
      account: input.account,
      unit: input.unit,
      amount: input.amount,
      captured: 0,
      status: "held",
      expiresAt: this.now + input.ttlSeconds * 1000,
      confirmedAmount: null,
      holds: lines.map(([lot, amount]) => ({ lot, amount })),
      key: input.key,
      resolution: null,
      resolutionKey: null,
      transaction: null,
    };
    this.reservations.set(r.id, r);
    if (input.key !== null) this.rsvKeys.set(input.key, r.id);
    return { ok: true, value: this.reservationOut(r, false) };
  }

  private reservationOut(r: Reservation, alreadyProcessed: boolean): ReservationOut {
    return {
      rsv: r.id,
      status: r.status,
      amount: r.amount,
      captured: r.captured,
      confirmedAmount: r.confirmedAmount,
      expiresAt: r.expiresAt,
      balance: this.balance(r.account, r.unit),
      alreadyProcessed,
    };
  }

  private settleOut(r: Reservation, txn: Txn | undefined, alreadyProcessed: boolean): SettleOut {
    return {
      ...this.reservationOut(r, alreadyProcessed),
      txn: txn?.id ?? null,
      txnAmount: txn?.amount ?? null,
      lines: txn?.lines ?? [],
    };
  }

  /** 409 for acting on a hold that is no longer held. */
  private notHeld(r: Reservation): Failure {
    return fail(r.status === "expired" ? "RESERVATION_EXPIRED" : "RESERVATION_NOT_HELD");
  }

  /**
   * Spends `amount` for a reservation: from what it still holds first (in the order taken),
   * then from available credits. All or nothing: undefined (and no change) when the part beyond
   * the holds is not available.
   */
  private spendForReservation(r: Reservation, amount: number): { lines: Line[] } | Failure {
    const held = r.holds.reduce((s, h) => s + h.amount, 0);
    const fromHolds = Math.min(held, amount);
    const beyond = amount - fromHolds;
    const extra = beyond > 0 ? this.plan(r.account, r.unit, beyond) : [];
    if (extra === undefined) return this.short(r.account, r.unit, beyond);
    const lines: Line[] = [];
    let need = fromHolds;
    const left: Reservation["holds"] = [];
    for (const h of r.holds) {
      const take = Math.min(need, h.amount);
      if (take > 0) {
        const l = this.lot(h.lot);
        l.held -= take;
        l.consumed += take;
        lines.push([h.lot, take]);
        need -= take;
      }
      if (h.amount > take) left.push({ lot: h.lot, amount: h.amount - take });
    }
    r.holds = left;
    for (const [id, take] of extra) {
      const l = this.lot(id);
      l.remaining -= take;
      l.consumed += take;
      lines.push([id, take]);
    }
    return { lines };
  }

  confirm(rsvId: string, input: { amount: number | undefined; key: string | null }, ids: NewIds): Expect<SettleOut> {
    this.settle();
    const r = this.reservations.get(rsvId);
    if (r === undefined) return fail("RESERVATION_NOT_FOUND");
    if (r.status !== "held") {
      if (input.key !== null && r.resolutionKey === input.key && r.resolution === "confirm") {
        if (input.amount !== undefined && input.amount !== r.confirmedAmount) return fail("IDEMPOTENCY_KEY_REUSED");
        return { ok: true, value: this.settleOut(r, r.transaction === null ? undefined : this.txns.get(r.transaction), true) };
      }
      return this.notHeld(r);
    }
    if (input.key !== null && this.txnKeys.has(input.key)) return fail("IDEMPOTENCY_KEY_REUSED");
    const total = input.amount ?? Math.max(r.amount, r.captured);
    if (total < r.captured) return fail("VALIDATION_ERROR");
    const spent = this.spendForReservation(r, total - r.captured);
    if ("ok" in spent) return spent;
    this.releaseAll(r);
    const txn = this.record({
      id: this.id(ids.txn, "txn"),
      type: "reservation_confirm",
      account: r.account,
      unit: r.unit,
      amount: -(total - r.captured),
      lines: spent.lines,
      reservation: r.id,
      refundOf: null,
      lot: null,
    });
    this.keyed(input.key, txn);
    r.status = "confirmed";
    r.confirmedAmount = total;
    r.resolution = "confirm";
    r.resolutionKey = input.key;
    r.transaction = txn.id;
    return { ok: true, value: this.settleOut(r, txn, false) };
  }

  capture(rsvId: string, input: { amount: number; key: string | null }, ids: NewIds): Expect<SettleOut> {
    this.settle();
    const r = this.reservations.get(rsvId);
    if (r === undefined) return fail("RESERVATION_NOT_FOUND");
    if (input.key !== null) {
      const id = this.txnKeys.get(input.key);
      if (id !== undefined) {
        const t = this.txns.get(id)!;
        if (t.type !== "reservation_capture" || t.reservation !== r.id || -t.amount !== input.amount) return fail("IDEMPOTENCY_KEY_REUSED");
        return { ok: true, value: this.settleOut(r, t, true) };
      }
    }
    if (r.status !== "held") return this.notHeld(r);
    const spent = this.spendForReservation(r, input.amount);
    if ("ok" in spent) return spent;
    r.captured += input.amount;
    const txn = this.record({
      id: this.id(ids.txn, "txn"),
      type: "reservation_capture",
      account: r.account,
      unit: r.unit,
      amount: -input.amount,
      lines: spent.lines,
      reservation: r.id,
      refundOf: null,
      lot: null,
    });
    this.keyed(input.key, txn);
    return { ok: true, value: this.settleOut(r, txn, false) };
  }

  cancel(rsvId: string, input: { key: string | null }): Expect<ReservationOut> {
    this.settle();
    const r = this.reservations.get(rsvId);
    if (r === undefined) return fail("RESERVATION_NOT_FOUND");
    if (r.status !== "held") {
      if (input.key !== null && r.resolutionKey === input.key && r.resolution === "cancel") return { ok: true, value: this.reservationOut(r, true) };
      return this.notHeld(r);
    }
    this.releaseAll(r);
    r.status = "canceled";
    r.resolution = "cancel";
    r.resolutionKey = input.key;
    return { ok: true, value: this.reservationOut(r, false) };
  }

  extend(rsvId: string, ttlSeconds: number): Expect<{ status: Reservation["status"]; expiresAt: number }> {
    this.settle();
    const r = this.reservations.get(rsvId);
    if (r === undefined) return fail("RESERVATION_NOT_FOUND");
    if (r.status !== "held") return this.notHeld(r);
    r.expiresAt = Math.max(r.expiresAt, this.now + ttlSeconds * 1000);
    return { ok: true, value: { status: r.status, expiresAt: r.expiresAt } };
  }

  /**
   * Pays back (part of) a spend, last receipt line first, never more than a line paid. Lines
   * whose lot has expired are not revived: their credits come back as one new lot without
   * expiry (source `refund`, priority 0).
   */
  refund(input: { txn: string; amount: number | undefined; key: string | null }, ids: NewIds): Expect<RefundOut> {
    this.settle();
    const original = this.txns.get(input.txn);
    if (original === undefined) return fail("TRANSACTION_NOT_FOUND");
    if (input.key !== null) {
      const id = this.txnKeys.get(input.key);
      if (id !== undefined) {
        const t = this.txns.get(id)!;
        if (t.type !== "refund" || t.refundOf !== original.id || (input.amount !== undefined && input.amount !== t.amount)) return fail("IDEMPOTENCY_KEY_REUSED");
        return { ok: true, value: { ...this.spendOut(t, true), newLot: t.lot !== null } };
      }
    }
    if (!REFUNDABLE.includes(original.type)) return fail("VALIDATION_ERROR");
    const spent = -original.amount;
    const soFar = original.returned.reduce((s, n) => s + n, 0);
    const amount = input.amount ?? spent - soFar;
    if (amount <= 0 || soFar + amount > spent) return fail("REFUND_EXCEEDS_ORIGINAL");
    const lines: Line[] = [];
    let left = amount;
    let lost = 0;
    for (let i = original.lines.length - 1; i >= 0 && left > 0; i--) {
      const [lotId, paid] = original.lines[i]!;
      const take = Math.min(left, paid - original.returned[i]!);
      if (take <= 0) continue;
      original.returned[i]! += take;
      const l = this.lot(lotId);
      if (this.expired(l.expiresAt)) lost += take;
      else {
        l.consumed -= take;
        l.remaining += take;
      }
      lines.push([lotId, take]);
      left -= take;
    }
    let lotId: string | null = null;
    if (lost > 0) {
      const lot: Lot = {
        id: this.id(ids.lot, "grt"),
        account: original.account,
        unit: original.unit,
        amount: lost,
        remaining: lost,
        held: 0,
        consumed: 0,
        expired: 0,
        priority: 0,
        expiresAt: null,
        createdAt: this.now,
      };
      this.lots.set(lot.id, lot);
      lotId = lot.id;
    }
    const txn = this.record({
      id: this.id(ids.txn, "txn"),
      type: "refund",
      account: original.account,
      unit: original.unit,
      amount,
      lines,
      reservation: original.reservation,
      refundOf: original.id,
      lot: lotId,
    });
    this.keyed(input.key, txn);
    return { ok: true, value: { ...this.spendOut(txn, false), newLot: lotId !== null } };
  }

  /** Transactions a refund may name, for the simulator to pick from. */
  spendIds(): string[] {
    return [...this.txns.values()].filter((t) => REFUNDABLE.includes(t.type)).map((t) => t.id);
  }

  /** Any transaction at all (refunding a grant or a refund is a 400 the model predicts). */
  txnIds(): string[] {
    return [...this.txns.keys()];
  }

  reservationIds(): string[] {
    return [...this.reservations.keys()];
  }

  usedTxnKeys(): string[] {
    return [...this.txnKeys.keys()];
  }
}

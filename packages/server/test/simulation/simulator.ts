/**
 * A seeded simulation of the ledger, after TigerBeetle's VOPR: one seed decides every operation,
 * every clock jump and every injected database fault, so any failure replays exactly with
 * `npm run simulate -- --seed N`.
 *
 * Each step drives the REAL domain functions (`src/domain`) on a real database and the in-memory
 * `LedgerModel` with the same request, then demands the same answer: the same success or error
 * code, the same amounts, the same receipt lines. Database faults are injected around a
 * transaction: "before commit" (the work is rolled back: nothing happened) or "after commit" (the
 * work is durable but the reply is lost); either way the client retries the same request with the
 * same idempotency key, as a real client would, and the model is told what really happened.
 * At the end the state must equal the model's (balances, lot parts, reservation statuses) and
 * `verifyLedger` must pass.
 */
import type { Database, Sql } from "../../src/store/sql.ts";
import { openDatabase } from "../../src/store/open.ts";
import { migrate } from "../../src/store/migrate.ts";
import { ManualClock } from "../../src/domain/clock.ts";
import type { Scope } from "../../src/domain/context.ts";
import { createApp } from "../../src/domain/apps.ts";
import { createAccount } from "../../src/domain/accounts.ts";
import * as credits from "../../src/domain/credits.ts";
import * as reservations from "../../src/domain/reservations.ts";
import { readBalance, type BalanceView } from "../../src/domain/balances.ts";
import { verifyLedger } from "../../src/domain/verify.ts";
import { TallyError } from "../../src/domain/errors.ts";
import { sweepOnce } from "../../src/jobs/sweeper.ts";
import type { Allocation, ReservationRecord, TransactionRecord } from "../../src/store/records.ts";
import { LedgerModel, type BalanceNow, type Expect, type Line, type NewIds } from "./model.ts";

// ── randomness ──────────────────────────────────────────────────────────────────────────────

/** sfc32: small, fast, and the same sequence on every machine for a given seed. */
export class Prng {
  private a: number;
  private b: number;
  private c: number;
  private d: number;
  constructor(seed: number) {
    this.a = 0x9e3779b9;
    this.b = 0x243f6a88;
    this.c = 0xb7e15162;
    this.d = seed >>> 0;
    for (let i = 0; i < 15; i++) this.next();
  }
  /** Uniform in [0, 1). */
  next(): number {
    this.a >>>= 0;
    this.b >>>= 0;
    this.c >>>= 0;
    this.d >>>= 0;
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return (t >>> 0) / 4294967296;
  }
  /** Integer in [min, max]. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  /** Small numbers much more often than large ones: picks recent objects most of the time. */
  skewed(max: number): number {
    return Math.min(max, Math.floor(Math.pow(this.next(), 3) * (max + 1)));
  }
  weighted<K extends string>(weights: Record<K, number>): K {
    const entries = Object.entries(weights) as Array<[K, number]>;
    let x = this.next() * entries.reduce((s, [, w]) => s + w, 0);
    for (const [k, w] of entries) {
      x -= w;
      if (x < 0) return k;
    }
    return entries[entries.length - 1]![0];
  }
}

// ── operations ──────────────────────────────────────────────────────────────────────────────

/**
 * An operation with its references left abstract (the n-th most recent reservation, the n-th
 * most recent spend…), so that both this simulator and fast-check can generate them without
 * knowing the state they will meet.
 */
export type Op =
  | { kind: "grant"; acct: number; unit: number; amount: number; priority: number; ttlMs: number | null; keyed: boolean; credit: boolean }
  | { kind: "deduct"; acct: number; unit: number; amount: number; keyed: boolean; debit: boolean }
  | { kind: "dryRun"; acct: number; unit: number; amount: number }
  | { kind: "reserve"; acct: number; unit: number; amount: number; ttlSeconds: number; keyed: boolean }
  | { kind: "confirm"; rsv: number; mode: "default" | "exact" | "less" | "more"; by: number; keyed: boolean }
  | { kind: "cancel"; rsv: number; keyed: boolean }
  | { kind: "capture"; rsv: number; amount: number; keyed: boolean }
  | { kind: "extend"; rsv: number; ttlSeconds: number }
  | { kind: "refund"; txn: number; anyTxn: boolean; amount: number | null; keyed: boolean }
  /**
   * An earlier key on a different request: 409. `tweak` repeats an earlier keyed request with a
   * changed amount (or, for a confirm, on another reservation); otherwise a deduct takes the key.
   */
  | { kind: "reuseKey"; key: number; acct: number; unit: number; amount: number; tweak: boolean }
  /** The exact repeat of an earlier keyed request: a late client retry. */
  | { kind: "replay"; back: number }
  | { kind: "advance"; ms: number }
  | { kind: "sweep" }
  | { kind: "balance"; acct: number; unit: number }
  | { kind: "getReservation"; rsv: number };

/** A concrete request, with real ids and keys. */
export type Req =
  | { kind: "grant"; account: string; unit: string; amount: number; priority: number; expiresAt: number | null; key: string | null; type: "grant" | "credit" }
  | { kind: "deduct"; account: string; unit: string; amount: number; key: string | null; type: "deduct" | "debit" }
  | { kind: "dryRun"; account: string; unit: string; amount: number }
  | { kind: "reserve"; account: string; unit: string; amount: number; ttlSeconds: number; key: string | null }
  | { kind: "confirm"; rsv: string; amount: number | undefined; key: string | null }
  | { kind: "cancel"; rsv: string; key: string | null }
  | { kind: "capture"; rsv: string; amount: number; key: string | null }
  | { kind: "extend"; rsv: string; ttlSeconds: number }
  | { kind: "refund"; txn: string; amount: number | undefined; key: string | null }
  | { kind: "advance"; ms: number }
  | { kind: "sweep" }
  | { kind: "balance"; account: string; unit: string }
  | { kind: "getReservation"; rsv: string };

export const UNITS = ["credits", "tokens"] as const;

/** Draws one operation; the mix keeps accounts funded, reservations live and expiry frequent. */
export function randomOp(rng: Prng, accounts: number): Op {
  const acct = rng.int(0, accounts - 1);
  const unit = rng.chance(0.75) ? 0 : 1;
  const keyed = rng.chance(0.85);
  switch (
    rng.weighted({
      grant: 14,
      credit: 2,
      deduct: 14,
      debit: 2,
      dryRun: 3,
      reserve: 12,
      confirm: 9,
      cancel: 5,
      capture: 6,
      extend: 3,
      refund: 7,
      reuseKey: 2,
      replay: 5,
      advance: 12,
      sweep: 3,
      balance: 5,
      getReservation: 3,
    })
  ) {
    case "grant":
      return {
        kind: "grant",
        acct,
        unit,
        amount: rng.chance(0.1) ? rng.int(200, 2000) : rng.int(1, 150),
        priority: rng.chance(0.6) ? 0 : rng.int(-2, 3),
        ttlMs: rng.chance(0.5) ? null : rng.chance(0.03) ? 0 : rng.int(500, rng.chance(0.5) ? 120_000 : 3_600_000),
        keyed,
        credit: false,
      };
    case "credit":
      return { kind: "grant", acct, unit, amount: rng.int(1, 100), priority: 0, ttlMs: null, keyed, credit: true };
    case "deduct":
      return { kind: "deduct", acct, unit, amount: rng.int(1, 60), keyed, debit: false };
    case "debit":
      return { kind: "deduct", acct, unit, amount: rng.int(1, 40), keyed, debit: true };
    case "dryRun":
      return { kind: "dryRun", acct, unit, amount: rng.int(1, 80) };
    case "reserve":
      return { kind: "reserve", acct, unit, amount: rng.int(1, 80), ttlSeconds: rng.chance(0.7) ? rng.int(1, 90) : rng.int(90, 600), keyed };
    case "confirm":
      return { kind: "confirm", rsv: rng.skewed(12), mode: rng.weighted({ default: 3, exact: 1, less: 3, more: 2 }), by: rng.int(0, 40), keyed };
    case "cancel":
      return { kind: "cancel", rsv: rng.skewed(12), keyed };
    case "capture":
      return { kind: "capture", rsv: rng.skewed(12), amount: rng.int(1, 40), keyed };
    case "extend":
      return { kind: "extend", rsv: rng.skewed(12), ttlSeconds: rng.int(1, 300) };
    case "refund":
      return { kind: "refund", txn: rng.skewed(20), anyTxn: rng.chance(0.08), amount: rng.chance(0.3) ? null : rng.int(1, 40), keyed };
    case "reuseKey":
      return { kind: "reuseKey", key: rng.skewed(30), acct, unit, amount: rng.int(1, 50), tweak: rng.chance(0.6) };
    case "replay":
      return { kind: "replay", back: rng.skewed(25) };
    case "advance":
      return { kind: "advance", ms: rng.chance(0.65) ? rng.int(1, 3000) : rng.chance(0.8) ? rng.int(3000, 90_000) : rng.int(90_000, 3_600_000) };
    case "sweep":
      return { kind: "sweep" };
    case "balance":
      return { kind: "balance", acct, unit };
    case "getReservation":
      return { kind: "getReservation", rsv: rng.skewed(12) };
  }
}

// ── injected database faults ────────────────────────────────────────────────────────────────

export type FaultPhase = "before-commit" | "after-commit";

/** What the client sees when the connection dies around a commit. */
export class InjectedFault extends Error {
  constructor(
    readonly phase: FaultPhase,
    /** For "after-commit": what the committed transaction returned (the auditor may look; the client may not). */
    readonly committed: unknown,
  ) {
    super(`injected database fault ${phase}`);
    this.name = "InjectedFault";
  }
}

/**
 * A `Database` whose next transaction can be made to fail once, armed by the simulator before an
 * operation: rolled back at the very end of its work ("before-commit"), or committed and then
 * reported as failed ("after-commit").
 */
export class FaultyDatabase implements Database {
  private armed: FaultPhase | null = null;
  fired = false;
  constructor(readonly inner: Database) {}
  get dialect() {
    return this.inner.dialect;
  }
  arm(phase: FaultPhase | null): void {
    this.armed = phase;
    this.fired = false;
  }
  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    const phase = this.armed;
    if (phase === null) return this.inner.transaction(fn);
    this.armed = null;
    const value = await this.inner.transaction(async (tx) => {
      const v = await fn(tx);
      if (phase === "before-commit") {
        this.fired = true;
        throw new InjectedFault(phase, undefined);
      }
      return v;
    });
    if (phase === "after-commit") {
      this.fired = true;
      throw new InjectedFault(phase, value);
    }
    return value;
  }
  read<T>(fn: (q: Sql) => Promise<T>): Promise<T> {
    return this.inner.read(fn);
  }
  connectionStats(): ReturnType<Database["connectionStats"]> {
    return this.inner.connectionStats();
  }
  ping(): Promise<boolean> {
    return this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

// ── the run ─────────────────────────────────────────────────────────────────────────────────

export interface SimulationOptions {
  seed: number;
  steps: number;
  /** Database URL (default an in-memory SQLite database), or an open, migrated database to use. */
  url?: string;
  database?: Database;
  accounts?: number;
  /** Probability that an attempt meets an injected fault (default 0.08; 0 turns faults off). */
  faultRate?: number;
  /** Run `verifyLedger` after every step (default: every 25 steps and at the end). */
  verifyEveryStep?: boolean;
  /** Operations to run instead of drawing them from the seed (fast-check drives it this way). */
  ops?: readonly Op[];
  log?: (line: string) => void;
}

export interface SimulationReport {
  seed: number;
  steps: number;
  faults: { beforeCommit: number; afterCommit: number };
  outcomes: Record<string, number>;
  simulatedMs: number;
}

export class SimulationFailure extends Error {
  constructor(
    readonly seed: number,
    readonly step: number,
    detail: string,
    trace: readonly string[],
  ) {
    super(
      `simulation seed ${seed} failed at step ${step}: ${detail}\n` +
        `last steps:\n${trace.map((l) => `  ${l}`).join("\n")}\n` +
        `replay: npm run simulate -- --seed ${seed} --steps ${step + 1}`,
    );
    this.name = "SimulationFailure";
  }
}

type Observed = { ok: true; value: unknown; raw: unknown } | { ok: false; code: string; details?: { available: number; required: number }; message?: string };

const START_MS = Date.parse("2026-01-01T00:00:00.000Z");

export async function runSimulation(options: SimulationOptions): Promise<SimulationReport> {
  const ownDb = options.database === undefined;
  const inner = options.database ?? openDatabase(options.url ?? "sqlite::memory:");
  try {
    if (ownDb) await migrate(inner);
    return await new Simulation(options, inner).run();
  } finally {
    if (ownDb) await inner.close();
  }
}

class Simulation {
  private readonly rng: Prng;
  private readonly db: FaultyDatabase;
  private readonly clock = new ManualClock(START_MS);
  private readonly model = new LedgerModel(START_MS);
  private scope!: Scope;
  private accounts: string[] = [];
  private keyCounter = 0;
  private readonly keyedHistory: Req[] = [];
  private readonly trace: string[] = [];
  private step = 0;
  private readonly report: SimulationReport;

  constructor(
    private readonly options: SimulationOptions,
    inner: Database,
  ) {
    this.rng = new Prng(options.seed);
    this.db = new FaultyDatabase(inner);
    this.report = { seed: options.seed, steps: 0, faults: { beforeCommit: 0, afterCommit: 0 }, outcomes: {}, simulatedMs: 0 };
  }

  private fail(detail: string): never {
    throw new SimulationFailure(this.options.seed, this.step, detail, this.trace.slice(-25));
  }

  async run(): Promise<SimulationReport> {
    const { app } = await createApp(this.db, this.clock, `simulation ${this.options.seed}`);
    this.scope = { db: this.db, clock: this.clock, appId: app.id };
    for (let i = 0; i < (this.options.accounts ?? 3); i++) {
      const account = await createAccount(this.scope, { externalId: `sim-${i}` });
      this.accounts.push(account.id);
      this.model.addAccount(account.id);
    }
    const total = this.options.ops?.length ?? this.options.steps;
    for (this.step = 0; this.step < total; this.step++) {
      const op = this.options.ops?.[this.step] ?? randomOp(this.rng, this.accounts.length);
      const req = this.resolve(op);
      if (req === undefined) continue;
      await this.perform(req);
      this.model.selfCheck();
      if (this.options.verifyEveryStep === true || this.step % 25 === 24) await this.verify();
    }
    this.report.steps = total;
    await this.finalCheck();
    this.report.simulatedMs = this.clock.nowMs() - START_MS;
    return this.report;
  }

  private key(keyed: boolean): string | null {
    return keyed ? `key-${this.options.seed}-${++this.keyCounter}` : null;
  }

  /** The n-th most recent element. */
  private recent<T>(list: readonly T[], n: number): T | undefined {
    return list.length === 0 ? undefined : list[list.length - 1 - (n % list.length)];
  }

  private resolve(op: Op): Req | undefined {
    const account = (i: number) => this.accounts[i % this.accounts.length]!;
    const unit = (i: number) => UNITS[i % UNITS.length]!;
    switch (op.kind) {
      case "grant":
        return {
          kind: "grant",
          account: account(op.acct),
          unit: unit(op.unit),
          amount: op.amount,
          priority: op.priority,
          expiresAt: op.ttlMs === null ? null : this.clock.nowMs() + op.ttlMs,
          key: this.key(op.keyed),
          type: op.credit ? "credit" : "grant",
        };
      case "deduct":
        return { kind: "deduct", account: account(op.acct), unit: unit(op.unit), amount: op.amount, key: this.key(op.keyed), type: op.debit ? "debit" : "deduct" };
      case "dryRun":
        return { kind: "dryRun", account: account(op.acct), unit: unit(op.unit), amount: op.amount };
      case "reserve":
        return { kind: "reserve", account: account(op.acct), unit: unit(op.unit), amount: op.amount, ttlSeconds: op.ttlSeconds, key: this.key(op.keyed) };
      case "confirm": {
        const rsv = this.recent(this.model.reservationIds(), op.rsv);
        if (rsv === undefined) return undefined;
        const r = this.model.reservations.get(rsv)!;
        const base = Math.max(r.amount, r.captured);
        const amount = op.mode === "default" ? undefined : op.mode === "exact" ? base : op.mode === "less" ? Math.max(0, base - op.by) : base + op.by;
        return { kind: "confirm", rsv, amount, key: this.key(op.keyed) };
      }
      case "cancel": {
        const rsv = this.recent(this.model.reservationIds(), op.rsv);
        return rsv === undefined ? undefined : { kind: "cancel", rsv, key: this.key(op.keyed) };
      }
      case "capture": {
        const rsv = this.recent(this.model.reservationIds(), op.rsv);
        return rsv === undefined ? undefined : { kind: "capture", rsv, amount: op.amount, key: this.key(op.keyed) };
      }
      case "extend": {
        const rsv = this.recent(this.model.reservationIds(), op.rsv);
        return rsv === undefined ? undefined : { kind: "extend", rsv, ttlSeconds: op.ttlSeconds };
      }
      case "refund": {
        const txn = this.recent(op.anyTxn ? this.model.txnIds() : this.model.spendIds(), op.txn);
        return txn === undefined ? undefined : { kind: "refund", txn, amount: op.amount ?? undefined, key: this.key(op.keyed) };
      }
      case "reuseKey": {
        if (op.tweak) return this.tweaked(op);
        const key = this.recent(this.model.usedTxnKeys(), op.key);
        return key === undefined ? undefined : { kind: "deduct", account: account(op.acct), unit: unit(op.unit), amount: op.amount, key, type: "deduct" };
      }
      case "replay":
        return this.recent(this.keyedHistory, op.back);
      case "advance":
        return { kind: "advance", ms: op.ms };
      case "sweep":
        return { kind: "sweep" };
      case "balance":
        return { kind: "balance", account: account(op.acct), unit: unit(op.unit) };
      case "getReservation": {
        const rsv = this.recent(this.model.reservationIds(), op.rsv);
        return rsv === undefined ? undefined : { kind: "getReservation", rsv };
      }
    }
  }

  /** An earlier keyed request, changed: same key, different request. */
  private tweaked(op: Extract<Op, { kind: "reuseKey" }>): Req | undefined {
    const earlier = this.recent(this.keyedHistory, op.key);
    if (earlier === undefined) return undefined;
    switch (earlier.kind) {
      case "grant":
      case "deduct":
      case "reserve":
      case "capture":
        return { ...earlier, amount: earlier.amount + op.amount };
      case "refund":
        return { ...earlier, amount: (earlier.amount ?? 0) + op.amount };
      case "confirm": {
        const other = this.recent(this.model.reservationIds(), op.acct);
        return op.unit === 0 && other !== undefined ? { ...earlier, rsv: other } : { ...earlier, amount: (earlier.amount ?? 0) + op.amount };
      }
      default:
        return { kind: "deduct", account: this.accounts[op.acct % this.accounts.length]!, unit: UNITS[op.unit % UNITS.length]!, amount: op.amount, key: "key" in earlier ? earlier.key : null, type: "deduct" };
    }
  }

  private async perform(req: Req): Promise<void> {
    if (req.kind === "advance") {
      this.clock.advanceMs(req.ms);
      this.model.advance(req.ms);
      this.trace.push(`#${this.step} advance ${req.ms}ms → ${new Date(this.clock.nowMs()).toISOString()}`);
      return;
    }
    if ("key" in req && req.key !== null) this.keyedHistory.push(req);
    const faultRate = this.options.faultRate ?? 0.08;
    for (let attempt = 1; ; attempt++) {
      const phase: FaultPhase | null = attempt <= 3 && this.rng.chance(faultRate) ? (this.rng.chance(0.5) ? "before-commit" : "after-commit") : null;
      this.db.arm(phase);
      let observed: Observed;
      try {
        const raw = await this.callReal(req);
        observed = { ok: true, value: observe(req, raw), raw };
      } catch (error) {
        if (error instanceof InjectedFault) {
          this.trace.push(`#${this.step} ${describe(req)} → fault ${error.phase}; retrying`);
          if (error.phase === "after-commit") {
            this.report.faults.afterCommit++;
            // It happened, though the client never heard: the model must know it too.
            this.model.now = this.clock.nowMs();
            this.expect(req, idsIn(error.committed));
          } else {
            this.report.faults.beforeCommit++;
          }
          continue;
        }
        observed = failureOf(error);
      } finally {
        this.db.arm(null);
      }
      const expected = this.expect(req, observed.ok ? idsIn(observed.raw) : {});
      this.compare(req, expected, observed);
      return;
    }
  }

  private expect(req: Exclude<Req, { kind: "advance" }>, ids: NewIds): Expect<unknown> {
    const m = this.model;
    switch (req.kind) {
      case "grant":
        return m.grant(req, ids);
      case "deduct":
        return m.deduct(req, ids);
      case "dryRun":
        return m.dryRun(req);
      case "reserve":
        return m.reserve(req, ids);
      case "confirm":
        return m.confirm(req.rsv, req, ids);
      case "cancel":
        return m.cancel(req.rsv, req);
      case "capture":
        return m.capture(req.rsv, req, ids);
      case "extend":
        return m.extend(req.rsv, req.ttlSeconds);
      case "refund":
        return m.refund(req, ids);
      case "sweep":
        return { ok: true, value: null };
      case "balance":
        return { ok: true, value: m.balance(req.account, req.unit) };
      case "getReservation":
        return m.reservationView(req.rsv);
    }
  }

  private async callReal(req: Exclude<Req, { kind: "advance" }>): Promise<unknown> {
    const s = this.scope;
    const key = (k: string | null) => k ?? undefined;
    switch (req.kind) {
      case "grant":
        return credits.grant(
          s,
          { accountId: req.account, unit: req.unit, amount: req.amount, priority: req.priority, expiresAtMs: req.expiresAt ?? undefined, source: "purchase", idempotencyKey: key(req.key) },
          req.type,
        );
      case "deduct":
        return credits.deduct(s, { accountId: req.account, unit: req.unit, amount: req.amount, idempotencyKey: key(req.key) }, req.type);
      case "dryRun":
        return credits.deduct(s, { accountId: req.account, unit: req.unit, amount: req.amount, dryRun: true });
      case "reserve":
        return reservations.reserve(s, { accountId: req.account, unit: req.unit, amount: req.amount, ttlSeconds: req.ttlSeconds, idempotencyKey: key(req.key) });
      case "confirm":
        return reservations.confirm(s, req.rsv, { amount: req.amount, idempotencyKey: key(req.key) });
      case "cancel":
        return reservations.cancel(s, req.rsv, { idempotencyKey: key(req.key) });
      case "capture":
        return reservations.capture(s, req.rsv, { amount: req.amount, idempotencyKey: key(req.key) });
      case "extend":
        return reservations.extend(s, req.rsv, req.ttlSeconds);
      case "refund":
        return credits.refund(s, { transactionId: req.txn, amount: req.amount, idempotencyKey: key(req.key) });
      case "sweep":
        return sweepOnce(this.db, this.clock);
      case "balance":
        return readBalance(s, req.account, req.unit);
      case "getReservation":
        return reservations.getReservation(s, req.rsv);
    }
  }

  private compare(req: Req, expected: Expect<unknown>, observed: Observed): void {
    const outcome = observed.ok ? "ok" : observed.code;
    this.report.outcomes[`${req.kind} ${outcome}`] = (this.report.outcomes[`${req.kind} ${outcome}`] ?? 0) + 1;
    const want = expected.ok ? { ok: true, value: expected.value } : expected;
    const got = observed.ok ? { ok: true, value: observed.value } : observed;
    const a = canonical(want);
    const b = canonical(got);
    this.trace.push(`#${this.step} ${describe(req)} → ${summary(got)}`);
    if (a !== b) this.fail(`${describe(req)}\n  model expected: ${a}\n  real answered:  ${b}`);
  }

  private async verify(): Promise<void> {
    const report = await verifyLedger(this.db.inner);
    if (!report.ok) this.fail(`verifyLedger: ${report.problems.join("; ")}`);
  }

  /** Settles everything and compares every balance, lot and reservation with the model. */
  private async finalCheck(): Promise<void> {
    this.trace.push(`#${this.step} final sweep and comparison`);
    for (let i = 0; i < 10; i++) {
      const swept = await sweepOnce(this.db.inner, this.clock);
      if (swept.settled === 0) break;
    }
    await this.verify();
    const want = this.model.snapshot();
    const appId = this.scope.appId;
    const lots = await this.db.inner.read((q) =>
      q.all<{ lot_id: string; remaining: number; held: number; consumed: number; expired: number }>(
        "SELECT lot_id, remaining, held, consumed, expired FROM lots WHERE app_id = ?",
        [appId],
      ),
    );
    if (lots.length !== want.lots.size) this.fail(`${lots.length} lots in the database, the model has ${want.lots.size}`);
    for (const l of lots) {
      const got = { remaining: Number(l.remaining), held: Number(l.held), consumed: Number(l.consumed), expired: Number(l.expired) };
      const expected = want.lots.get(l.lot_id);
      if (canonical(got) !== canonical(expected)) this.fail(`lot ${l.lot_id}: database ${canonical(got)}, model ${canonical(expected)}`);
    }
    const rsvs = await this.db.inner.read((q) =>
      q.all<{ rsv_id: string; status: string; captured_amount: number; holds: string }>("SELECT rsv_id, status, captured_amount, holds FROM reservations WHERE app_id = ?", [appId]),
    );
    if (rsvs.length !== want.reservations.size) this.fail(`${rsvs.length} reservations in the database, the model has ${want.reservations.size}`);
    for (const r of rsvs) {
      const held = (JSON.parse(r.holds) as Array<{ amount: number }>).reduce((s, h) => s + h.amount, 0);
      const got = { status: r.status, captured: Number(r.captured_amount), held };
      const expected = want.reservations.get(r.rsv_id);
      if (canonical(got) !== canonical(expected)) this.fail(`reservation ${r.rsv_id}: database ${canonical(got)}, model ${canonical(expected)}`);
    }
    const balances = await this.db.inner.read((q) =>
      q.all<{ account_id: string; unit: string; balance: number; reserved: number }>("SELECT account_id, unit, balance, reserved FROM balances WHERE app_id = ?", [appId]),
    );
    for (const b of balances) {
      const got = { balance: Number(b.balance), reserved: Number(b.reserved), available: Number(b.balance) - Number(b.reserved) };
      const expected = want.balances.get(`${b.account_id}/${b.unit}`) ?? { balance: 0, reserved: 0, available: 0 };
      if (canonical(got) !== canonical(expected)) this.fail(`balance ${b.account_id}/${b.unit} after sweeping: database ${canonical(got)}, model ${canonical(expected)}`);
    }
    for (const [k, expected] of want.balances) {
      if (!balances.some((b) => `${b.account_id}/${b.unit}` === k)) this.fail(`balance ${k} missing from the database (model ${canonical(expected)})`);
    }
  }
}

// ── turning real answers into the model's terms ─────────────────────────────────────────────

const balanceNow = (b: BalanceView): BalanceNow => ({ balance: b.balance, reserved: b.reserved, available: b.available });
const lines = (allocations: readonly Allocation[]): Line[] => allocations.map((a) => [a.grantId, a.amount]);

function reservationOut(r: ReservationRecord, balance: BalanceView, alreadyProcessed: boolean | undefined) {
  return {
    rsv: r.id,
    status: r.status,
    amount: r.amount,
    captured: r.capturedAmount,
    confirmedAmount: r.confirmedAmount,
    expiresAt: r.expiresAtMs,
    balance: balanceNow(balance),
    alreadyProcessed: alreadyProcessed === true,
  };
}

function observe(req: Exclude<Req, { kind: "advance" }>, raw: unknown): unknown {
  switch (req.kind) {
    case "grant": {
      const r = raw as credits.GrantResult;
      return { txn: r.transaction.id, type: r.transaction.type, amount: r.transaction.amount, lot: r.grant.id, balance: balanceNow(r.balance), alreadyProcessed: r.alreadyProcessed };
    }
    case "deduct": {
      const r = raw as credits.DeductResult;
      return spendOut(r.transaction, r.balance, r.alreadyProcessed);
    }
    case "dryRun": {
      const r = raw as credits.DryRunResult;
      return { wouldSucceed: r.wouldSucceed, lines: lines(r.allocations), balance: balanceNow(r.balance) };
    }
    case "reserve":
    case "cancel": {
      const r = raw as reservations.ReservationOutcome;
      return reservationOut(r.reservation, r.balance, r.alreadyProcessed);
    }
    case "confirm":
    case "capture": {
      const r = raw as reservations.ReservationOutcome;
      return {
        ...reservationOut(r.reservation, r.balance, r.alreadyProcessed),
        txn: r.transaction?.id ?? null,
        txnAmount: r.transaction?.amount ?? null,
        lines: lines(r.transaction?.allocations ?? []),
      };
    }
    case "extend": {
      const r = raw as ReservationRecord;
      return { status: r.status, expiresAt: r.expiresAtMs };
    }
    case "refund": {
      const r = raw as credits.DeductResult;
      return { ...spendOut(r.transaction, r.balance, r.alreadyProcessed), newLot: r.transaction.grantId !== null };
    }
    case "sweep":
      return null;
    case "balance":
      return balanceNow(raw as BalanceView);
    case "getReservation": {
      const r = raw as ReservationRecord;
      return { status: r.status, captured: r.capturedAmount, confirmedAmount: r.confirmedAmount, expiresAt: r.expiresAtMs };
    }
  }
}

function spendOut(t: TransactionRecord, balance: BalanceView, alreadyProcessed: boolean) {
  return { txn: t.id, type: t.type, amount: t.amount, lines: lines(t.allocations), balance: balanceNow(balance), alreadyProcessed };
}

function failureOf(error: unknown): Observed {
  if (error instanceof TallyError) {
    const d = error.details as { available?: number; required?: number } | undefined;
    if (error.code === "INSUFFICIENT_CREDITS" && d?.available !== undefined && d.required !== undefined) {
      return { ok: false, code: error.code, details: { available: d.available, required: d.required } };
    }
    return { ok: false, code: error.code };
  }
  const e = error as { message?: unknown; stack?: unknown };
  return { ok: false, code: "UNEXPECTED_EXCEPTION", message: String(e?.stack ?? e?.message ?? error) };
}

/** Ids of what an operation created, from its result (or from the value its transaction committed). */
function idsIn(raw: unknown): NewIds {
  if (typeof raw !== "object" || raw === null) return {};
  // deduct's transaction returns { value, events }.
  const v = ("value" in raw && "events" in raw ? (raw as { value: unknown }).value : raw) as {
    transaction?: { id?: string; grantId?: string | null };
    grant?: { id?: string };
    reservation?: { id?: string };
  };
  if (typeof v !== "object" || v === null) return {};
  return {
    txn: v.transaction?.id,
    lot: v.grant?.id ?? v.transaction?.grantId ?? undefined,
    rsv: v.reservation?.id,
  };
}

/** JSON with sorted keys, -0 as 0, undefined fields dropped: a stable text to compare. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

function describe(req: Req): string {
  const { kind, ...rest } = req;
  return `${kind} ${JSON.stringify(rest)}`;
}

function summary(got: { ok: boolean; code?: string }): string {
  return got.ok ? "ok" : String(got.code);
}

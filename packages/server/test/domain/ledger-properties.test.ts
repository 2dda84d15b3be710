import { afterAll, beforeAll, describe, it } from "vitest";
import fc from "fast-check";
import { runSimulation, type Op } from "../simulation/simulator.ts";
import { freshDatabase, postgresAvailable } from "../support/databases.ts";
import { openDatabase } from "../../src/store/open.ts";
import { migrate } from "../../src/store/migrate.ts";
import type { Database } from "../../src/store/sql.ts";

/**
 * Property: ANY sequence of grants (random priority and expiry), deducts, debits, credits,
 * reservations, confirms, cancels, captures, extensions, refunds, key reuses, replays and clock
 * jumps (which expire lots and holds) keeps the ledger sound after EVERY step, checked by
 * `verifyLedger` on the database:
 *   each balance = the sum of its ledger = the credits left in its lots;
 *   available = balance − reserved ≥ 0 and no lot part is negative;
 *   reserved = Σ held in lots = Σ holds of held reservations;
 * and every reply (success, 402, 409, 404, 400, and the amounts and receipt lines) equals what the
 * independent in-memory model (test/simulation/model.ts) says, with the final state (every lot's
 * parts, every reservation's status, every balance) equal to the model's.
 *
 * The operations and their driver are the simulator's, without injected faults: fast-check
 * brings the shrinking, so a failure comes back as a minimal sequence of operations.
 */

const acct = fc.integer({ min: 0, max: 2 });
const unit = fc.integer({ min: 0, max: 1 });
const recent = fc.integer({ min: 0, max: 6 });

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("grant" as const), acct, unit, amount: fc.integer({ min: 1, max: 200 }), priority: fc.integer({ min: -2, max: 2 }), ttlMs: fc.option(fc.integer({ min: 1, max: 600_000 }), { nil: null }), keyed: fc.boolean(), credit: fc.boolean() }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("deduct" as const), acct, unit, amount: fc.integer({ min: 1, max: 120 }), keyed: fc.boolean(), debit: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("dryRun" as const), acct, unit, amount: fc.integer({ min: 1, max: 120 }) }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant("reserve" as const), acct, unit, amount: fc.integer({ min: 1, max: 120 }), ttlSeconds: fc.integer({ min: 1, max: 300 }), keyed: fc.boolean() }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("confirm" as const), rsv: recent, mode: fc.constantFrom("default" as const, "exact" as const, "less" as const, "more" as const), by: fc.integer({ min: 0, max: 60 }), keyed: fc.boolean() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("cancel" as const), rsv: recent, keyed: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("capture" as const), rsv: recent, amount: fc.integer({ min: 1, max: 60 }), keyed: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("extend" as const), rsv: recent, ttlSeconds: fc.integer({ min: 1, max: 300 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("refund" as const), txn: recent, anyTxn: fc.integer({ min: 0, max: 9 }).map((n) => n === 0), amount: fc.option(fc.integer({ min: 1, max: 80 }), { nil: null }), keyed: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("reuseKey" as const), key: recent, acct, unit, amount: fc.integer({ min: 1, max: 50 }), tweak: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("replay" as const), back: recent }) },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant("advance" as const), ms: fc.oneof(fc.integer({ min: 1, max: 5_000 }), fc.integer({ min: 5_000, max: 900_000 })) }) },
  { weight: 1, arbitrary: fc.constant({ kind: "sweep" as const }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("balance" as const), acct, unit }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("getReservation" as const), rsv: recent }) },
);

describe("ledger properties on sqlite", () => {
  it("random operation sequences keep every balance equal to its ledger sum, available ≥ 0 and reserved = Σ held holds after every step, and agree with the model", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 80, size: "max" }), async (ops) => {
        await runSimulation({ seed: 0, steps: ops.length, ops, faultRate: 0, verifyEveryStep: true });
      }),
      { numRuns: 150 },
    );
  });
});

describe.skipIf(!postgresAvailable)("ledger properties on postgres", () => {
  let db: Database;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    const fresh = await freshDatabase("postgres");
    cleanup = fresh.cleanup;
    db = openDatabase(fresh.url);
    await migrate(db);
  });
  afterAll(async () => {
    await db?.close();
    await cleanup?.();
  });

  it("random operation sequences keep the same invariants and agree with the model on PostgreSQL", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { minLength: 1, maxLength: 40, size: "max" }), async (ops) => {
        // One application per run in one schema; verifyLedger checks every application each step.
        await runSimulation({ seed: 0, steps: ops.length, ops, faultRate: 0, verifyEveryStep: true, database: db });
      }),
      { numRuns: 10 },
    );
  });
});

import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { PostgresDatabase } from "../../src/store/postgres/database.ts";
import type { Database, SqlValue } from "../../src/store/sql.ts";
import { BALANCE_OF_BY_EXTERNAL_ID, LOCK_BY_EXTERNAL_ID } from "../../src/store/repo/balances.ts";
import { spendReadsStatement } from "../../src/store/repo/ledger-reads.ts";
import { migrate } from "../../src/store/migrate.ts";
import { createApp } from "../../src/domain/apps.ts";
import { deduct, grant } from "../../src/domain/credits.ts";
import { setSpendLimits } from "../../src/domain/spend-limits.ts";
import { cancel, confirm, reserve, type ReservationOutcome } from "../../src/domain/reservations.ts";
import { TallyError } from "../../src/domain/errors.ts";
import { readBalance } from "../../src/domain/balances.ts";
import { verifyLedger } from "../../src/domain/verify.ts";
import { accountLane } from "../../src/domain/context.ts";
import { systemClock } from "../../src/domain/clock.ts";
import { freshDatabase, postgresAvailable } from "../support/databases.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A fresh, migrated PostgreSQL database with one app, and how to drop it. */
async function freshApp(name: string, poolSize: number): Promise<{ db: PostgresDatabase; url: string; appId: string; cleanup: () => Promise<void> }> {
  const fresh = await freshDatabase("postgres");
  const db = new PostgresDatabase({ connectionString: fresh.url, poolSize });
  await migrate(db);
  const appId = (await createApp(db, systemClock, name)).app.id;
  return {
    db,
    url: fresh.url,
    appId,
    cleanup: async () => {
      await db.close();
      await fresh.cleanup();
    },
  };
}

/** `db`, counting how many times the database runs a transaction's function (a failed batch runs again). */
function countingRuns(db: Database): { db: Database; runs: () => number } {
  let runs = 0;
  const counted: Database = {
    dialect: db.dialect,
    transaction: (fn, options) => db.transaction((tx) => {
      runs++;
      return fn(tx);
    }, options),
    read: (fn) => db.read(fn),
    ping: () => db.ping(),
    connectionStats: () => db.connectionStats(),
    close: async () => undefined,
  };
  return { db: counted, runs: () => runs };
}

/**
 * A hot account's requests share one batch (its lane). After the first takes the balance lock,
 * the others read the balance, the key and the lots in one statement without locking: they must
 * see every earlier request of the batch, including one recorded under the same key.
 */
describe.skipIf(!postgresAvailable)("PostgreSQL spends of one account in one batch", () => {
  let db: PostgresDatabase;
  let cleanup: () => Promise<void>;
  let appId: string;
  beforeAll(async () => {
    ({ db, appId, cleanup } = await freshApp("held", 4));
  });
  afterAll(() => cleanup());

  it("sees the earlier spends of the batch (and a repeated key replays) when reading under a lock it already holds", async () => {
    const scope = { db, clock: systemClock, appId };
    const g = await grant(scope, { externalId: "hot", amount: 100, unit: "credits", priority: 1 });
    await grant(scope, { externalId: "hot", amount: 5, unit: "credits", priority: 0 }); // burns first: the batch runs it dry
    const accountId = g.transaction.accountId;
    // Holds the lane while the spends queue behind it, so they all share the next batch.
    const blocker = db.transaction(async () => sleep(150), { lane: accountLane(appId, { accountId }) });
    await sleep(20);
    const spends = Array.from({ length: 12 }, (_, i) => deduct(scope, { ...(i % 2 === 0 ? { accountId } : { externalId: "hot" }), amount: 3, idempotencyKey: `k${i}` }));
    const again = deduct(scope, { accountId, amount: 3, idempotencyKey: "k4" }); // the same key, later in the same batch
    await blocker;
    const results = await Promise.all(spends);
    const replay = await again;
    expect(results.every((r) => "transaction" in r && !r.alreadyProcessed)).toBe(true);
    expect("transaction" in replay && replay.alreadyProcessed).toBe(true);
    // Each spend saw the one before it: balances step down by 3, in order.
    const after = results.map((r) => ("transaction" in r ? r.transaction.balanceAfter : -1)).sort((a, b) => b - a);
    expect(after).toEqual(Array.from({ length: 12 }, (_, i) => 105 - 3 * (i + 1)));
    expect((await readBalance(scope, accountId, "credits")).balance).toBe(105 - 36);
    expect((await verifyLedger(db)).problems).toEqual([]);
  });

  /** Runs `work` while counting the statements every pooled connection sends. */
  async function countingStatements<T>(work: () => Promise<T>): Promise<{ result: T; statements: number }> {
    const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
    const original = proto.query;
    let statements = 0;
    proto.query = function (this: unknown, ...args: unknown[]) {
      statements++;
      return original.apply(this, args);
    };
    try {
      return { result: await work(), statements };
    } finally {
      proto.query = original;
    }
  }

  /** Queues `work` behind a transaction that holds the account's lane, so it all shares one batch. */
  async function inOneBatch<T>(accountId: string, work: () => Promise<T>, holdMs = 150): Promise<T> {
    const blocker = db.transaction(async () => sleep(holdMs), { lane: accountLane(appId, { accountId }) });
    await sleep(20);
    const result = work();
    await blocker;
    return result;
  }

  it("reserves and confirms in two statements each: the lock with every read, then one write", async () => {
    const scope = { db, clock: systemClock, appId };
    const accountId = (await grant(scope, { externalId: "pairs", amount: 1000, unit: "credits" })).transaction.accountId;
    const pair = async (i: number) => {
      const held = (await reserve(scope, { accountId, amount: 5, idempotencyKey: `pair-r-${i}` })) as ReservationOutcome;
      return confirm(scope, held.reservation.id, { amount: 3, idempotencyKey: `pair-c-${i}` });
    };
    await pair(0); // warms what the app caches (its webhook endpoints)
    const reserved = await countingStatements(() => reserve(scope, { accountId, amount: 5, idempotencyKey: "pair-r-1" }));
    // BEGIN; the balance row locked, the key looked up and the live lots read; the reservation,
    // the lots and the balance written; COMMIT. (Before: the lock, the key and the lots one by
    // one, and the reservation inserted on its own.)
    expect(reserved.statements).toBe(4);
    const id = (reserved.result as ReservationOutcome).reservation.id;
    const confirmed = await countingStatements(() => confirm(scope, id, { amount: 3, idempotencyKey: "pair-c-1" }));
    // BEGIN; the balance row locked through the reservation, with the reservation, the key, the
    // live lots and the other held reservations' earliest expiry; the reservation, transaction,
    // lots and balance written; COMMIT. (Before: the reservation, the key and the held lots read
    // one by one after the lock, then the reservation, the transaction and the lot written one by
    // one before the next due time was read back, then the balance.)
    expect(confirmed.statements).toBe(4);
    expect(confirmed.result.balance).toMatchObject({ balance: 994, reserved: 0 });
    expect((await verifyLedger(db)).problems).toEqual([]);
  });

  it("makes one statement per spend after the first of a batch on one account (it starts from what the batch wrote), and every balance comes out right", async () => {
    const scope = { db, clock: systemClock, appId };
    const accountId = (await grant(scope, { externalId: "one-statement", amount: 1000, unit: "credits" })).transaction.accountId;
    await grant(scope, { accountId, amount: 7, unit: "credits", priority: 0 }); // burns first: runs dry mid-batch
    const spends = 20;
    const { result, statements } = await countingStatements(() =>
      inOneBatch(accountId, () => Promise.all(Array.from({ length: spends }, (_, i) => deduct(scope, { accountId, amount: 2, idempotencyKey: `one-${i}` })))),
    );
    const after = result.map((r) => ("transaction" in r ? r.transaction.balanceAfter : -1)).sort((a, b) => b - a);
    expect(after).toEqual(Array.from({ length: spends }, (_, i) => 1007 - 2 * (i + 1)));
    // The blocker's BEGIN and COMMIT, then the batch's BEGIN, the first spend's lock and reads,
    // one write per spend and COMMIT. Reading under the held lock would add one more per spend.
    expect(statements).toBe(2 + 1 + 1 + spends + 1);
    expect((await readBalance(scope, accountId, "credits")).balance).toBe(1007 - 2 * spends);
    expect((await verifyLedger(db)).problems).toEqual([]);
  });

  it("replays a key repeated later in the batch from its guarded write, which finds the key taken and writes nothing (no batch rolled back and run again)", async () => {
    const accountId = (await grant({ db, clock: systemClock, appId }, { externalId: "repeat", amount: 100, unit: "credits" })).transaction.accountId;
    const counted = countingRuns(db);
    const scope = { db: counted.db, clock: systemClock, appId };
    const results = await inOneBatch(accountId, () =>
      Promise.all(["a", "b", "a", "c"].map((key) => deduct(scope, { accountId, amount: 10, idempotencyKey: `repeat-${key}` }))),
    );
    expect(results.map((r) => "transaction" in r && r.alreadyProcessed)).toEqual([false, false, true, false]);
    expect("transaction" in results[2]! && "transaction" in results[0]! && results[2].transaction.id).toBe("transaction" in results[0]! ? results[0].transaction.id : "");
    // A unique-key violation would abort the batch's transaction: all four would run again.
    expect(counted.runs()).toBe(4);
    expect((await readBalance({ db, clock: systemClock, appId }, accountId, "credits")).balance).toBe(70);
    expect((await verifyLedger(db)).problems).toEqual([]);
  });

  /**
   * Property: whatever mix of spends (retries of a few keys, keyless ones, by id or by external
   * id), dry runs, grants, spend-limit changes (which rewrite the balance row) and bare rewrites
   * of the balance row lands in one batch of one account, every answer is what the same
   * operations give one at a time, in order (a batch runs them in the order they queued), every
   * key is applied once, and the ledger stays sound. The batch notes the account after each write
   * and its later spends start from the note: a stale note (a limit set in between) would let a
   * spend past its limit, or a retry be applied twice.
   */
  it("answers any mix of spends, retries, grants and spend-limit changes in one batch of one account as one at a time would, applying each key once", async () => {
    type BatchOp =
      | { kind: "deduct"; key: number | null; amount: number; byExternalId: boolean }
      | { kind: "dryRun"; amount: number }
      | { kind: "grant"; amount: number }
      | { kind: "limit"; on: boolean }
      | { kind: "rewrite" };
    const keyAmount = (key: number) => 3 + key * 4; // a retry names the same amount, as a real one does
    const opArb: fc.Arbitrary<BatchOp> = fc.oneof(
      { weight: 8, arbitrary: fc.record({ kind: fc.constant("deduct" as const), key: fc.option(fc.integer({ min: 0, max: 5 }), { nil: null }), amount: fc.integer({ min: 1, max: 25 }), byExternalId: fc.boolean() }) },
      { weight: 1, arbitrary: fc.record({ kind: fc.constant("dryRun" as const), amount: fc.integer({ min: 1, max: 60 }) }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("grant" as const), amount: fc.integer({ min: 1, max: 40 }) }) },
      { weight: 3, arbitrary: fc.record({ kind: fc.constant("limit" as const), on: fc.boolean() }) },
      { weight: 1, arbitrary: fc.constant({ kind: "rewrite" as const }) },
    );
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 80 }), fc.integer({ min: 3, max: 30 }), fc.array(opArb, { minLength: 1, maxLength: 24 }), async (initial, perDay, ops) => {
        const externalId = `mix-${run++}`;
        const base = { db, clock: systemClock, appId };
        const accountId = (await grant(base, { externalId, amount: 1 + initial, unit: "credits" })).transaction.accountId;
        const lane = accountLane(appId, { accountId });
        // Every transaction in this account's lane, so spend-limit changes share the spends' batch.
        const laned: Database = {
          dialect: db.dialect,
          transaction: (fn, options) => db.transaction(fn, { ...options, lane }),
          read: (fn) => db.read(fn),
          ping: () => db.ping(),
          connectionStats: () => db.connectionStats(),
          close: async () => undefined,
        };
        const scope = { ...base, db: laned };
        const settled = await inOneBatch(
          accountId,
          () =>
            Promise.allSettled(
              ops.map((op) => {
                switch (op.kind) {
                  case "deduct":
                    return deduct(scope, {
                      ...(op.byExternalId ? { externalId } : { accountId }),
                      amount: op.key === null ? op.amount : keyAmount(op.key),
                      ...(op.key === null ? {} : { idempotencyKey: `${externalId}-k${op.key}` }),
                    });
                  case "dryRun":
                    return deduct(scope, { accountId, amount: op.amount, dryRun: true });
                  case "grant":
                    return grant(scope, { accountId, amount: op.amount, unit: "credits" });
                  case "limit":
                    return setSpendLimits(scope, { accountId }, "credits", { perHour: null, perDay: op.on ? perDay : null, perMonth: null });
                  case "rewrite":
                    return laned.transaction((tx) => tx.run("UPDATE balances SET commerce_flags = commerce_flags WHERE app_id = ? AND account_id = ?", [appId, accountId]));
                }
              }),
            ),
          60,
        );
        // The model: the same operations one at a time, in order.
        let balance = 1 + initial;
        let limitOn = false;
        let spentToday = 0; // counts only while a limit is set, and survives its removal
        const applied = new Map<number, string>();
        settled.forEach((outcome, i) => {
          const op = ops[i]!;
          const failure = outcome.status === "rejected" ? ((outcome.reason as { code?: string }).code ?? String(outcome.reason)) : undefined;
          if (op.kind !== "deduct") {
            expect(failure).toBeUndefined();
            if (op.kind === "grant") balance += op.amount;
            if (op.kind === "limit") limitOn = op.on;
            return;
          }
          const amount = op.key === null ? op.amount : keyAmount(op.key);
          const r = outcome.status === "fulfilled" ? (outcome.value as Awaited<ReturnType<typeof deduct>>) : undefined;
          const replayOf = op.key === null ? undefined : applied.get(op.key);
          if (replayOf !== undefined) {
            expect(r !== undefined && "transaction" in r && r.alreadyProcessed && r.transaction.id).toBe(replayOf);
          } else if (balance < amount) {
            expect(failure).toBe("INSUFFICIENT_CREDITS");
          } else if (limitOn && spentToday + amount > perDay) {
            expect(failure).toBe("SPEND_LIMIT_EXCEEDED");
          } else {
            balance -= amount;
            if (limitOn) spentToday += amount;
            expect(r !== undefined && "transaction" in r && !r.alreadyProcessed && r.transaction.balanceAfter).toBe(balance);
            if (op.key !== null && r !== undefined && "transaction" in r) applied.set(op.key, r.transaction.id);
          }
        });
        for (const [key, id] of applied) {
          const rows = await db.read((q) => q.all<{ txn_id: string }>("SELECT txn_id FROM transactions WHERE app_id = ? AND idempotency_key = ?", [appId, `${externalId}-k${key}`]));
          expect(rows.map((r) => r.txn_id)).toEqual([id]);
        }
        expect((await readBalance(base, accountId, "credits")).balance).toBe(balance);
      }),
      {
        numRuns: 60,
        // Found by this property while the change was made, and run first every time: a retry
        // refused 402 from the note instead of replayed; a spend let past a limit set in between.
        examples: [
          [10, 5, [{ kind: "deduct", key: 2, amount: 1, byExternalId: false }, { kind: "deduct", key: 2, amount: 1, byExternalId: false }]],
          [7, 5, [{ kind: "deduct", key: null, amount: 1, byExternalId: false }, { kind: "limit", on: true }, { kind: "deduct", key: 1, amount: 1, byExternalId: false }]],
        ],
      },
    );
    expect((await verifyLedger(db)).problems).toEqual([]);
  });

  it("sees a change to the account made some other way between two spends of the batch: the write's version check fails, nothing is written, and the spend reads again", async () => {
    const scope = { db, clock: systemClock, appId };
    const accountId = (await grant(scope, { externalId: "changed", amount: 100, unit: "credits" })).transaction.accountId;
    const [first, , second] = await inOneBatch(accountId, () =>
      Promise.all([
        deduct(scope, { accountId, amount: 10, idempotencyKey: "changed-1" }),
        // Another writer of the balance row, in the same batch (a spend limit being set is one):
        // here it takes 50 credits by hand, lot and balance together.
        db.transaction(async (tx) => {
          await tx.run("UPDATE lots SET remaining = remaining - 50, consumed = consumed + 50 WHERE app_id = ? AND account_id = ?", [appId, accountId]);
          await tx.run("UPDATE balances SET balance = balance - 50 WHERE app_id = ? AND account_id = ?", [appId, accountId]);
        }, { lane: accountLane(appId, { accountId }) }),
        deduct(scope, { accountId, amount: 10, idempotencyKey: "changed-2" }),
      ]),
    );
    expect("transaction" in first && first.transaction.balanceAfter).toBe(90);
    // From the batch's note it would be 80, and its write would put back the 50 taken by hand.
    expect("transaction" in second && second.transaction.balanceAfter).toBe(30);
    expect((await readBalance(scope, accountId, "credits")).balance).toBe(30);
  });
});

/**
 * A spend that does not yet hold its account's lock takes it and reads the key and the lots in
 * ONE statement, whose reads see the snapshot taken when it began. When the lock waits for a
 * transaction that changes the account, the lots in that snapshot are stale: the spend must see
 * that (the locked balance row is newer than the snapshot's) and read again under the lock.
 */
describe.skipIf(!postgresAvailable)("PostgreSQL spends that wait for their account's lock", () => {
  let db: PostgresDatabase;
  let other: PostgresDatabase;
  let cleanup: () => Promise<void>;
  let appId: string;
  beforeAll(async () => {
    let url: string;
    ({ db, url, appId, cleanup } = await freshApp("waits", 4));
    other = new PostgresDatabase({ connectionString: url, poolSize: 4 });
  });
  afterAll(async () => {
    await other.close();
    await cleanup();
  });

  /**
   * `other`, except that each transaction holds its locks for `holdMs` after its work, before
   * committing; `held` resolves once the work is done and the wait has begun.
   */
  const slowToCommit = (holdMs: number): { db: Database; held: Promise<void> } => {
    let signal: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (signal = resolve));
    const db: Database = {
      dialect: other.dialect,
      transaction: (fn, options) => other.transaction(async (tx) => {
        const result = await fn(tx);
        signal();
        await sleep(holdMs);
        return result;
      }, options),
      read: (fn) => other.read(fn),
      ping: () => other.ping(),
      connectionStats: () => other.connectionStats(),
      close: async () => undefined,
    };
    return { db, held };
  };

  const counting = () => countingRuns(db);

  /**
   * Runs `attempt` on `other`, holding its locks for 200 ms once done, and meanwhile its retry on
   * `db`, which waits for those locks; counts how many times the retry's batch ran it.
   */
  async function retriedWhileTheFirstHolds<T>(attempt: (db: Database) => Promise<T>, retried: (db: Database) => Promise<T>): Promise<{ first: T; retry: T; retryRuns: number }> {
    const slow = slowToCommit(200);
    const firstAttempt = attempt(slow.db);
    await slow.held;
    const retrier = counting();
    const retry = await retried(retrier.db);
    return { first: await firstAttempt, retry, retryRuns: retrier.runs() };
  }

  it("spends the credits of a grant that committed while the spend waited for the lock, on its first run (it reads the lots again)", async () => {
    const scope = { db, clock: systemClock, appId };
    const accountId = (await grant(scope, { externalId: "waiter", amount: 10, unit: "credits" })).transaction.accountId;
    for (const ref of [{ externalId: "waiter" }, { accountId }]) {
      if (ref.accountId !== undefined) await grant(scope, { accountId, amount: 10, unit: "credits" });
      // The grant holds the lock, its new lot written but not committed, while the spend starts.
      const slow = slowToCommit(200);
      const granting = grant({ db: slow.db, clock: systemClock, appId }, { accountId, amount: 10, unit: "credits" });
      await slow.held;
      const spender = counting();
      const spend = await deduct({ ...scope, db: spender.db }, { ...ref, amount: 15, idempotencyKey: `wait-${ref.accountId ?? "ext"}` });
      await granting;
      expect("transaction" in spend && spend.transaction.balanceAfter).toBe(5);
      // Stale lots would fail its first run (they add up to less than the locked balance) and
      // the batch would run it again with a fresh snapshot: right answer, for the wrong reason.
      expect(spender.runs()).toBe(1);
      await deduct(scope, { accountId, amount: 5 }); // back to zero for the next round
    }
    expect((await readBalance(scope, accountId, "credits")).balance).toBe(0);
    expect((await verifyLedger(db)).problems).toEqual([]);
  });

  it("answers 409 to a confirm whose hold was canceled while the confirm waited for the lock (it reads the reservation again)", async () => {
    const scope = { db, clock: systemClock, appId };
    const accountId = (await grant(scope, { externalId: "resolved-meanwhile", amount: 10, unit: "credits" })).transaction.accountId;
    const held = (await reserve(scope, { accountId, amount: 4 })) as ReservationOutcome;
    const slow = slowToCommit(200);
    const canceling = cancel({ db: slow.db, clock: systemClock, appId }, held.reservation.id, {});
    await slow.held;
    const refused = await confirm(scope, held.reservation.id, {}).then(
      () => undefined,
      (error: unknown) => error,
    );
    await canceling;
    // The lock's own read of the reservation (its snapshot) still says held: trusted, the confirm
    // would spend holds the cancel released.
    expect(refused instanceof TallyError && refused.code).toBe("RESERVATION_NOT_HELD");
    expect(await readBalance(scope, accountId, "credits")).toMatchObject({ balance: 10, reserved: 0 });
    expect((await verifyLedger(db)).problems).toEqual([]);
  });

  it("replays, on its first run, a reservation whose first attempt committed while its retry waited for the lock", async () => {
    const scope = { db, clock: systemClock, appId };
    const accountId = (await grant(scope, { externalId: "hold-retry", amount: 10, unit: "credits" })).transaction.accountId;
    const { first, retry, retryRuns } = await retriedWhileTheFirstHolds(
      (db) => reserve({ db, clock: systemClock, appId }, { accountId, amount: 6, idempotencyKey: "hold-once" }) as Promise<ReservationOutcome>,
      (db) => reserve({ ...scope, db }, { externalId: "hold-retry", amount: 6, idempotencyKey: "hold-once" }) as Promise<ReservationOutcome>,
    );
    // Its snapshot did not have the reservation yet: trusted, the retry would insert a second
    // one, fail on the key's unique index and take the batch down to run again.
    expect(retryRuns).toBe(1);
    expect(retry.alreadyProcessed).toBe(true);
    expect(retry.reservation.id).toBe(first.reservation.id);
    expect(await readBalance(scope, accountId, "credits")).toMatchObject({ balance: 10, reserved: 6 });
  });

  it("replays, on its first run, a spend whose first attempt committed while its retry waited for the lock", async () => {
    const scope = { db, clock: systemClock, appId };
    const accountId = (await grant(scope, { externalId: "retry", amount: 10, unit: "credits" })).transaction.accountId;
    const { first, retry, retryRuns } = await retriedWhileTheFirstHolds(
      (db) => deduct({ db, clock: systemClock, appId }, { accountId, amount: 10, idempotencyKey: "once" }),
      (db) => deduct({ ...scope, db }, { externalId: "retry", amount: 10, idempotencyKey: "once" }),
    );
    expect(retryRuns).toBe(1);
    expect("alreadyProcessed" in retry && retry.alreadyProcessed).toBe(true);
    expect("transaction" in first && "transaction" in retry && retry.transaction.id).toBe("transaction" in first ? first.transaction.id : "");
    expect((await readBalance(scope, accountId, "credits")).balance).toBe(0);
  });
});

/**
 * Before autovacuum first analyzes a new database, PostgreSQL has no statistics and planned the
 * join from an account's external id to its balance row as a scan of every balance of the app,
 * filtered by account: cost that grows with the number of accounts. The lock statements name
 * the account by a subquery instead, a key for the primary key whatever the statistics.
 */
describe.skipIf(!postgresAvailable)("PostgreSQL locks by external id on a database never analyzed", () => {
  let db: PostgresDatabase;
  let cleanup: () => Promise<void>;
  let appId: string;
  const ACCOUNTS = 1500;
  beforeAll(async () => {
    ({ db, appId, cleanup } = await freshApp("unanalyzed", 6));
    const scope = { db, clock: systemClock, appId };
    for (let i = 0; i < ACCOUNTS; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => grant(scope, { externalId: `u${i + j}`, amount: 10, unit: "credits" })));
    }
  });
  afterAll(() => cleanup());

  /** Buffers the statement touches, executed for the newest account (the last one a filtered scan would reach). */
  const buffersTouched = (sql: string, params: readonly SqlValue[]) =>
    db.transaction(async (tx) => {
      const [row] = await tx.all<{ "QUERY PLAN": Array<{ Plan: { "Shared Hit Blocks": number; "Shared Read Blocks": number } }> }>(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${sql}`, params);
      const plan = row!["QUERY PLAN"][0]!.Plan;
      return plan["Shared Hit Blocks"] + plan["Shared Read Blocks"];
    });

  it("locks an account's balance by external id touching a few pages, not every balance of the app", async () => {
    const newest = `u${ACCOUNTS - 1}`;
    expect(await buffersTouched(LOCK_BY_EXTERNAL_ID(db.dialect), [appId, appId, newest, "credits"])).toBeLessThan(30);
    expect(await buffersTouched(spendReadsStatement("externalId", true), [appId, appId, newest, "credits", appId, "credits", appId, "no-such-key", appId, "credits"])).toBeLessThan(60);
  });

  it("reads an account's balance by external id touching a few pages, not every balance of the app", async () => {
    const newest = `u${ACCOUNTS - 1}`;
    expect(await buffersTouched(BALANCE_OF_BY_EXTERNAL_ID, ["credits", appId, newest, appId, newest])).toBeLessThan(30);
  });
});

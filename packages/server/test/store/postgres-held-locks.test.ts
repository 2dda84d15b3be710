import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresDatabase } from "../../src/store/postgres/database.ts";
import { migrate } from "../../src/store/migrate.ts";
import { createApp } from "../../src/domain/apps.ts";
import { deduct, grant } from "../../src/domain/credits.ts";
import { readBalance } from "../../src/domain/balances.ts";
import { verifyLedger } from "../../src/domain/verify.ts";
import { accountLane } from "../../src/domain/context.ts";
import { systemClock } from "../../src/domain/clock.ts";
import { freshDatabase, postgresAvailable } from "../support/databases.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
    const fresh = await freshDatabase("postgres");
    cleanup = fresh.cleanup;
    db = new PostgresDatabase({ connectionString: fresh.url, poolSize: 4 });
    await migrate(db);
    appId = (await createApp(db, systemClock, "held")).app.id;
  });
  afterAll(async () => {
    await db.close();
    await cleanup();
  });

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
});

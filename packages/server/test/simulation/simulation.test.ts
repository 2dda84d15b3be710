import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { randomInt } from "node:crypto";
import { runSimulation } from "./simulator.ts";
import { freshDatabase, postgresAvailable } from "../support/databases.ts";
import { openDatabase } from "../../src/store/open.ts";
import { migrate } from "../../src/store/migrate.ts";
import type { Database } from "../../src/store/sql.ts";

/**
 * The seeded simulation (see simulator.ts) in the suite: a fixed set of seeds, so a red build
 * replays exactly with `npm run simulate -- --seed N`. TALLY_SOAK=1 adds a long run of random
 * seeds (each printed before it runs).
 */
const SOAK = process.env["TALLY_SOAK"] === "1";
const SEEDS = Array.from({ length: 20 }, (_, i) => i + 1);

describe("seeded simulation on sqlite", () => {
  it.each(SEEDS)("seed %i: 300 random steps with injected faults and retries agree with the model at every reply and at the end", async (seed) => {
    const report = await runSimulation({ seed, steps: 300 });
    expect(report.steps).toBe(300);
  });

  it("replays a seed exactly: the same seed gives the same operations, faults and outcomes", async () => {
    const a = await runSimulation({ seed: 4242, steps: 200 });
    const b = await runSimulation({ seed: 4242, steps: 200 });
    expect(b.outcomes).toEqual(a.outcomes);
    expect(b.faults).toEqual(a.faults);
    expect(b.simulatedMs).toBe(a.simulatedMs);
    // The run did exercise what it claims to: faults on both sides of a commit, expiry, 402s and 409s.
    expect(a.faults.beforeCommit + a.faults.afterCommit).toBeGreaterThan(0);
    const outcomes = Object.keys(a.outcomes).join(" ");
    for (const seen of ["deduct INSUFFICIENT_CREDITS", "RESERVATION_EXPIRED", "RESERVATION_NOT_HELD", "refund ok", "capture ok", "confirm ok"]) {
      expect(outcomes).toContain(seen);
    }
  });
});

describe.skipIf(!postgresAvailable)("seeded simulation on postgres", () => {
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

  // Each seed runs as its own application in one schema: nothing crosses between applications.
  it.each([1, 2, 3])("seed %i: 150 steps with faults agree with the model on PostgreSQL", async (seed) => {
    await runSimulation({ seed, steps: 150, database: db });
  });
});

describe.skipIf(!SOAK)("seeded simulation soak (TALLY_SOAK=1)", () => {
  it("runs 200 random seeds of 2,000 steps on sqlite", { timeout: 3_600_000 }, async () => {
    for (let i = 0; i < 200; i++) {
      const seed = randomInt(0, 2 ** 32);
      console.log(`soak: seed ${seed}`);
      await runSimulation({ seed, steps: 2000 });
    }
  });

  it.skipIf(!postgresAvailable)("runs 20 random seeds of 1,000 steps on postgres", { timeout: 3_600_000 }, async () => {
    const fresh = await freshDatabase("postgres");
    const db = openDatabase(fresh.url);
    try {
      await migrate(db);
      for (let i = 0; i < 20; i++) {
        const seed = randomInt(0, 2 ** 32);
        console.log(`soak (postgres): seed ${seed}`);
        await runSimulation({ seed, steps: 1000, database: db });
      }
    } finally {
      await db.close();
      await fresh.cleanup();
    }
  });
});

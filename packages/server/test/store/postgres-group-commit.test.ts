import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresDatabase } from "../../src/store/postgres/database.ts";
import type { Sql } from "../../src/store/sql.ts";
import { freshDatabase, postgresAvailable } from "../support/databases.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Two server processes whose batches take the same two rows in opposite orders deadlock. The
 * request PostgreSQL picks as the victim must be retried after its own batch commits (which
 * frees the rows its batch-mates locked), not inside that batch, where the same cycle would form
 * again on every attempt and the request would end in an error.
 */
describe.skipIf(!postgresAvailable)("PostgreSQL group commit under cross-batch deadlock", () => {
  let url: string;
  let cleanup: () => Promise<void>;
  let a: PostgresDatabase;
  let b: PostgresDatabase;

  beforeAll(async () => {
    ({ url, cleanup } = await freshDatabase("postgres"));
    // poolSize 3 leaves one batch runner, so a second and third request queued behind a slow
    // first one share the next batch.
    a = new PostgresDatabase({ connectionString: url, poolSize: 3 });
    b = new PostgresDatabase({ connectionString: url, poolSize: 3 });
    await a.exec("CREATE TABLE rows (id TEXT PRIMARY KEY, n INT NOT NULL)");
    await a.exec("INSERT INTO rows VALUES ('x', 0), ('y', 0)");
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await cleanup?.();
  });

  const bump = (id: string, holdMs = 0) => async (tx: Sql) => {
    await tx.get("SELECT n FROM rows WHERE id = ? FOR UPDATE", [id]);
    if (holdMs > 0) await sleep(holdMs);
    await tx.run("UPDATE rows SET n = n + 1 WHERE id = ?", [id]);
    return id;
  };

  it("answers every request of two deadlocking batches and applies each exactly once", async () => {
    const results = await Promise.allSettled([
      a.transaction(async () => sleep(100)),
      a.transaction(bump("x", 300)),
      a.transaction(bump("y")),
      b.transaction(async () => sleep(100)),
      b.transaction(bump("y", 300)),
      b.transaction(bump("x")),
    ]);
    expect(results.map((r) => r.status)).toEqual(Array(6).fill("fulfilled"));
    const rows = await a.read((q) => q.all<{ id: string; n: number }>("SELECT id, n FROM rows ORDER BY id"));
    expect(rows).toEqual([
      { id: "x", n: 2 },
      { id: "y", n: 2 },
    ]);
  });

  it("undoes a request that fails after writing, alone: the batch runs again with savepoints and its other requests apply exactly once", async () => {
    await a.exec("UPDATE rows SET n = 0");
    let runsOfFirst = 0;
    const results = await Promise.allSettled([
      a.transaction(async () => sleep(100)), // the rest queue behind it and share the next batch
      a.transaction(async (tx) => {
        runsOfFirst++;
        return bump("x")(tx);
      }),
      a.transaction(async (tx) => {
        await bump("y")(tx);
        throw new Error("fails after writing");
      }),
      a.transaction(bump("x")),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
    expect((results[2] as PromiseRejectedResult).reason).toMatchObject({ message: "fails after writing" });
    const rows = await a.read((q) => q.all<{ id: string; n: number }>("SELECT id, n FROM rows ORDER BY id"));
    expect(rows).toEqual([
      { id: "x", n: 2 },
      { id: "y", n: 0 },
    ]);
    expect(runsOfFirst).toBe(2); // once without savepoints (rolled back), once with
  });

  it("leaves out a request that fails having only read, without undoing its batch-mates (no savepoint needed)", async () => {
    await a.exec("UPDATE rows SET n = 0");
    let runsOfFirst = 0;
    const results = await Promise.allSettled([
      a.transaction(async () => sleep(100)),
      a.transaction(async (tx) => {
        runsOfFirst++;
        return bump("x")(tx);
      }),
      a.transaction(async (tx) => {
        await tx.get("SELECT n FROM rows WHERE id = ? FOR UPDATE", ["y"]);
        throw new Error("short of credits");
      }),
      a.transaction(bump("y")),
    ]);
    expect(results.map((r) => r.status)).toEqual(["fulfilled", "fulfilled", "rejected", "fulfilled"]);
    const rows = await a.read((q) => q.all<{ id: string; n: number }>("SELECT id, n FROM rows ORDER BY id"));
    expect(rows).toEqual([
      { id: "x", n: 1 },
      { id: "y", n: 1 },
    ]);
    expect(runsOfFirst).toBe(1);
  });

  it("runs the transactions of one lane one batch at a time, while other lanes run beside it", async () => {
    const db = new PostgresDatabase({ connectionString: url, poolSize: 6 }); // 4 lanes
    try {
      const running = new Map<string, number>();
      const most = new Map<string, number>();
      const work = (lane: string) => async () => {
        running.set(lane, (running.get(lane) ?? 0) + 1);
        most.set(lane, Math.max(most.get(lane) ?? 0, running.get(lane)!));
        await sleep(2);
        running.set(lane, running.get(lane)! - 1);
      };
      const lanes = ["hot", "a", "b", "c", "d", "e"];
      await Promise.all(Array.from({ length: 120 }, (_, i) => db.transaction(work(lanes[i % 3 === 0 ? 0 : i % lanes.length]!), { lane: lanes[i % 3 === 0 ? 0 : i % lanes.length]! })));
      expect(most.get("hot")).toBe(1);
      // Lanes do not serialise everything: some two of them overlapped.
      let overlap = false;
      const probe = new Set<string>();
      await Promise.all(["a", "b", "c", "d", "e", "f", "g", "h"].map((lane) => db.transaction(async () => {
        probe.add(lane);
        await sleep(20);
        if (probe.size > 1) overlap = true;
        probe.delete(lane);
      }, { lane })));
      expect(overlap).toBe(true);
    } finally {
      await db.close();
    }
  });
});

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
});

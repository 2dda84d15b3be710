import BetterSqlite3 from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { SqliteDatabase } from "../../src/store/sqlite/database.ts";
import { tempDatabasePaths } from "../support/temp-paths.ts";

const tempPath = tempDatabasePaths("tally-rs-");

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

async function open(synchronous: "FULL" | "NORMAL"): Promise<{ db: SqliteDatabase; path: string }> {
  const path = tempPath();
  const db = new SqliteDatabase({ path, synchronous });
  db.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)");
  await db.transaction((tx) => tx.run("INSERT INTO t (k, v) VALUES (1, 1)"));
  return { db, path };
}

const readV = (db: SqliteDatabase) => db.read((q) => q.get<{ v: number }>("SELECT v FROM t WHERE k = 1")).then((r) => r?.v);

describe("SQLite reads sharing a read transaction within one event-loop turn", () => {
  it("a read right after a commit, in the same turn, sees that commit (the commit ends the shared transaction)", async () => {
    // NORMAL answers a batch as soon as it commits, so the caller resumes in the commit's own
    // turn, while the read transaction opened inside the batch would otherwise still be open.
    const { db } = await open("NORMAL");
    const before = await db.transaction(async (tx) => {
      const seen = await readV(db);
      await tx.run("UPDATE t SET v = 2 WHERE k = 1");
      return seen;
    });
    expect(before).toBe(1);
    expect(await readV(db)).toBe(2);
    await db.close();
  });

  for (const synchronous of ["FULL", "NORMAL"] as const) {
    it(`every acknowledged write is visible to the next read (synchronous=${synchronous}, 200 interleaved writes and reads)`, async () => {
      const { db } = await open(synchronous);
      const work: Array<Promise<void>> = [];
      for (let i = 2; i <= 201; i++) {
        work.push(
          (async () => {
            await readV(db);
            await db.transaction((tx) => tx.run("UPDATE t SET v = MAX(v, ?) WHERE k = 1", [i]));
            // Acknowledged: no read from now on may see less than i.
            expect(await readV(db)).toBeGreaterThanOrEqual(i);
          })(),
        );
      }
      await Promise.all(work);
      expect(await readV(db)).toBe(201);
      await db.close();
    });
  }

  it("reads in one turn share a snapshot, and the next turn's reads see what another connection wrote meanwhile", async () => {
    const { db, path } = await open("NORMAL");
    const other = new BetterSqlite3(path);
    await nextTurn();
    expect(await readV(db)).toBe(1);
    other.prepare("UPDATE t SET v = 5 WHERE k = 1").run();
    // Same turn: the shared read transaction still shows its snapshot.
    expect(await readV(db)).toBe(1);
    await nextTurn();
    expect(await readV(db)).toBe(5);
    other.close();
    await db.close();
  });

  it("leaves no read transaction behind after a failed read, and the WAL still checkpoints to empty", async () => {
    const { db, path } = await open("NORMAL");
    await expect(db.read((q) => q.get("SELECT nope FROM t"))).rejects.toThrow();
    await nextTurn();
    const other = new BetterSqlite3(path);
    // A TRUNCATE checkpoint completes only if no reader holds a snapshot of the WAL.
    const [result] = other.pragma("wal_checkpoint(TRUNCATE)") as Array<{ busy: number }>;
    expect(result!.busy).toBe(0);
    other.close();
    expect(await readV(db)).toBe(1);
    await db.close();
  });
});

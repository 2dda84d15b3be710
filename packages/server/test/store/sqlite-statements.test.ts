import BetterSqlite3 from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { StatementCache } from "../../src/store/sqlite/statements.ts";

const dialect = { name: "sqlite", forUpdate: "", forUpdateOf: () => "" } as const;

function setup(): { db: BetterSqlite3.Database; cache: StatementCache } {
  const db = new BetterSqlite3(":memory:");
  db.exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT, flag INTEGER)");
  return { db, cache: new StatementCache(db, dialect) };
}

describe("SQLite statement cache", () => {
  it("returns rows as objects keyed by column name, the same as better-sqlite3's own rows", async () => {
    const { db, cache } = setup();
    await cache.sql.run("INSERT INTO t (k, v, flag) VALUES (?, ?, ?)", [1, "one", true]);
    await cache.sql.run("INSERT INTO t (k, v, flag) VALUES (?, ?, ?)", [2, null, false]);
    const expected = db.prepare("SELECT k, v AS value, flag FROM t ORDER BY k").all();
    expect(await cache.sql.all("SELECT k, v AS value, flag FROM t ORDER BY k")).toEqual(expected);
    expect(await cache.sql.get("SELECT k, v AS value, flag FROM t WHERE k = ?", [2])).toEqual({ k: 2, value: null, flag: 0 });
    expect(await cache.sql.get("SELECT k FROM t WHERE k = ?", [3])).toBeUndefined();
    expect(await cache.sql.all("SELECT k FROM t WHERE k > ?", [9])).toEqual([]);
  });

  it("keeps the last value of a repeated column name, as better-sqlite3 does", async () => {
    const { db, cache } = setup();
    await cache.sql.run("INSERT INTO t (k, v, flag) VALUES (1, 'a', 0)");
    const sql = "SELECT v AS x, k AS x FROM t";
    expect(await cache.sql.get(sql)).toEqual(db.prepare(sql).get());
    expect(await cache.sql.get(sql)).toEqual({ x: 1 });
  });

  it("follows a schema change under a cached SELECT * (SQLite re-prepares it with more columns)", async () => {
    const { cache } = setup();
    await cache.sql.run("INSERT INTO t (k, v, flag) VALUES (1, 'a', 0)");
    expect(await cache.sql.get("SELECT * FROM t")).toEqual({ k: 1, v: "a", flag: 0 });
    await cache.sql.run("ALTER TABLE t ADD COLUMN extra TEXT DEFAULT 'x'");
    expect(await cache.sql.get("SELECT * FROM t")).toEqual({ k: 1, v: "a", flag: 0, extra: "x" });
  });

  it("runs a statement that returns rows (RETURNING) through run and counts its changes", async () => {
    const { cache } = setup();
    expect(await cache.sql.run("INSERT INTO t (v, flag) VALUES (?, ?) RETURNING k", ["z", 1])).toEqual({ changes: 1 });
    expect(await cache.sql.get("INSERT INTO t (v, flag) VALUES (?, ?) RETURNING k, v", ["y", 0])).toEqual({ k: 2, v: "y" });
  });

  it("treats column names as data, never as code", async () => {
    const { cache } = setup();
    await cache.sql.run("INSERT INTO t (k, v, flag) VALUES (1, 'a', 0)");
    const name = `"}); throw new Error("injected"); ({"`;
    const row = await cache.sql.get<Record<string, unknown>>(`SELECT v AS "${name.replaceAll('"', '""')}" FROM t`);
    expect(row).toEqual({ [name]: "a" });
  });
});

describe("SQLite statement parameters", () => {
  it("binds a long parameter list (an IN of 5,000 ids) as well as a short one", async () => {
    const { cache } = setup();
    for (let k = 1; k <= 3; k++) await cache.sql.run("INSERT INTO t (k, v, flag) VALUES (?, ?, ?)", [k, `v${k}`, 0]);
    const ids = Array.from({ length: 5000 }, (_, i) => i + 1);
    const rows = await cache.sql.all<{ k: number }>(`SELECT k FROM t WHERE k IN (${ids.map(() => "?").join(", ")}) ORDER BY k`, ids);
    expect(rows.map((r) => r.k)).toEqual([1, 2, 3]);
    expect(await cache.sql.get(`SELECT COUNT(*) AS n FROM t WHERE k IN (${ids.map(() => "?").join(", ")})`, ids)).toEqual({ n: 3 });
    expect(await cache.sql.run(`DELETE FROM t WHERE k IN (${ids.map(() => "?").join(", ")})`, ids)).toEqual({ changes: 3 });
  });
});

describe("SQLite statement cache bound", () => {
  it("keeps answering correctly after more distinct statements than it caches (the oldest are dropped, then prepared again)", async () => {
    const { cache } = setup();
    await cache.sql.run("INSERT INTO t (k, v, flag) VALUES (1, 'a', 0)");
    for (let i = 0; i < 2100; i++) expect(await cache.sql.get(`SELECT v, ${i} AS n FROM t WHERE k = ?`, [1])).toEqual({ v: "a", n: i });
    expect(await cache.sql.get("SELECT v, 0 AS n FROM t WHERE k = ?", [1])).toEqual({ v: "a", n: 0 });
  });
});

import pg from "pg";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

/**
 * The database matrix every integration suite runs on (the Kysely habit): SQLite always, and
 * PostgreSQL when reachable. Narrow with TALLY_TEST_DATABASES=sqlite (or postgres). Where no
 * PostgreSQL runs, its cases are skipped with a loud warning, unless TALLY_REQUIRE_POSTGRES=1
 * (set by CI), which turns its absence into a failure.
 */
export const PG_URL = process.env["TALLY_TEST_PG_URL"] ?? "postgres://postgres@127.0.0.1:5432/test";

export type DatabaseKind = "sqlite" | "postgres";

async function probePostgres(): Promise<boolean> {
  const client = new pg.Client({ connectionString: PG_URL, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    await client.query("SELECT 1");
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const wanted = (process.env["TALLY_TEST_DATABASES"] ?? "sqlite,postgres").split(",").map((s) => s.trim()) as DatabaseKind[];
export const postgresAvailable = wanted.includes("postgres") ? await probePostgres() : false;

if (wanted.includes("postgres") && !postgresAvailable) {
  if (process.env["TALLY_REQUIRE_POSTGRES"] === "1") {
    throw new Error(`TALLY_REQUIRE_POSTGRES=1 but PostgreSQL is not reachable at ${PG_URL}`);
  }
  console.warn(
    `\n${"!".repeat(78)}\n!! PostgreSQL is not reachable at ${PG_URL}:\n!! SKIPPING every PostgreSQL test case. Only SQLite was tested.\n${"!".repeat(78)}\n`,
  );
}

/** The databases to run on; each entry says whether it is available here. */
export const DATABASES: ReadonlyArray<{ kind: DatabaseKind; available: boolean }> = wanted.map((kind) => ({
  kind,
  available: kind === "sqlite" ? true : postgresAvailable,
}));

/**
 * A fresh, empty database of the given kind: a new SQLite file, or a new PostgreSQL schema
 * (selected through the connection's search_path), so suites running in parallel never meet.
 */
export async function freshDatabase(kind: DatabaseKind): Promise<{ url: string; cleanup: () => Promise<void> }> {
  if (kind === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "tally-db-"));
    return { url: `sqlite:${join(dir, "tally.db")}`, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  }
  const schema = `t_${randomBytes(6).toString("hex")}`;
  const admin = new pg.Client({ connectionString: PG_URL });
  await admin.connect();
  await admin.query(`CREATE SCHEMA ${schema}`);
  await admin.end();
  const sep = PG_URL.includes("?") ? "&" : "?";
  return {
    url: `${PG_URL}${sep}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    cleanup: async () => {
      const c = new pg.Client({ connectionString: PG_URL });
      await c.connect();
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      await c.end();
    },
  };
}

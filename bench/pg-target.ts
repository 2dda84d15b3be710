import pg from "pg";

/**
 * The PostgreSQL database a bench runs on: named in a URL, dropped and re-created for each run
 * (and dropped at its end), so nothing of an earlier run is measured. `adminUrl` names the
 * server's `postgres` database, from which the bench's own is dropped and created.
 */
export interface PgTarget {
  adminUrl: string;
  databaseUrl: string;
  database: string;
  host: string;
  port: string;
  user: string;
}

export function pgTarget(url: string): PgTarget {
  const u = new URL(url);
  const database = decodeURIComponent(u.pathname.replace(/^\//, "")) || "tally_bench";
  if (!/^[a-z_][a-z0-9_]*$/.test(database)) throw new Error(`--pg-url: database name ${database} must be a plain identifier`);
  const admin = new URL(url);
  admin.pathname = "/postgres";
  return { adminUrl: admin.toString(), databaseUrl: u.toString(), database, host: u.hostname || "127.0.0.1", port: u.port || "5432", user: decodeURIComponent(u.username) || "postgres" };
}

export async function recreateDatabase(t: PgTarget, drop: boolean, create: boolean): Promise<void> {
  const client = new pg.Client({ connectionString: t.adminUrl });
  await client.connect();
  try {
    if (drop) await client.query(`DROP DATABASE IF EXISTS ${t.database} WITH (FORCE)`);
    if (create) await client.query(`CREATE DATABASE ${t.database}`);
  } finally {
    await client.end();
  }
}

import type { Database, Sql } from "./sql.ts";
import { SqliteDatabase } from "./sqlite/database.ts";
import { PostgresDatabase } from "./postgres/database.ts";
import * as m001 from "./migrations/001_core.ts";
import * as m002 from "./migrations/002_security.ts";
import * as m004 from "./migrations/004_live_lot_expiry.ts";
import * as m003 from "./migrations/003_commerce.ts";
import * as m005 from "./migrations/005_lot_live_flag.ts";

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly up: string;
}

/** Numbered, append-only. A released migration is never edited: add a new one. */
export const MIGRATIONS: readonly Migration[] = [{ version: 1, name: "core", up: m001.up }, { version: 2, name: "security", up: m002.up }, { version: 3, name: "commerce", up: m003.up }, { version: 4, name: "live_lot_expiry", up: m004.up }, { version: 5, name: "lot_live_flag", up: m005.up }];

// Arbitrary constant: the advisory lock that makes concurrent starts migrate one at a time.
const MIGRATION_LOCK_ID = 727_001;

function statements(script: string): string[] {
  return script
    .split(/;\s*\n/)
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

async function applyPending(tx: Sql): Promise<number[]> {
  await tx.run(
    "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
  );
  const applied: number[] = [];
  for (const migration of MIGRATIONS) {
    const row = await tx.get("SELECT version FROM schema_migrations WHERE version = ?", [migration.version]);
    if (row !== undefined) continue;
    for (const statement of statements(migration.up)) await tx.run(statement);
    await tx.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", [migration.version, migration.name, Date.now()]);
    applied.push(migration.version);
  }
  return applied;
}

/**
 * Applies every migration not yet applied, all in one transaction. Safe to run from several
 * processes at once: on PostgreSQL they queue on an advisory lock; on SQLite, on its writer lock.
 * Returns the versions applied by this call.
 */
export async function migrate(db: Database): Promise<number[]> {
  if (db instanceof PostgresDatabase) return db.exclusive(MIGRATION_LOCK_ID, applyPending);
  if (db instanceof SqliteDatabase) return db.transaction(applyPending, { bulk: true });
  throw new Error("unknown database driver");
}

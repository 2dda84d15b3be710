import type { Database } from "./sql.ts";
import { SqliteDatabase } from "./sqlite/database.ts";
import { PostgresDatabase } from "./postgres/database.ts";

export interface OpenOptions {
  readonly synchronous?: "FULL" | "NORMAL" | "OFF";
  readonly poolSize?: number;
  /** PostgreSQL batches that may run at once (see PostgresOptions.lanes). */
  readonly lanes?: number | undefined;
}

/**
 * Opens the database named by a URL: `sqlite:PATH` (or `sqlite::memory:`) or `postgres://…`.
 */
export function openDatabase(url: string, options: OpenOptions = {}): Database {
  if (url.startsWith("postgres://") || url.startsWith("postgresql://")) {
    return new PostgresDatabase({ connectionString: url, ...(options.poolSize ? { poolSize: options.poolSize } : {}), ...(options.lanes ? { lanes: options.lanes } : {}) });
  }
  if (url.startsWith("sqlite:")) {
    const path = url.slice("sqlite:".length).replace(/^\/\/(?=\/)/, "");
    if (path.length === 0) throw new Error(`database URL ${url} names no file`);
    return new SqliteDatabase({ path, ...(options.synchronous ? { synchronous: options.synchronous } : {}) });
  }
  throw new Error(`unsupported database URL ${JSON.stringify(url)}: use sqlite:PATH or postgres://…`);
}

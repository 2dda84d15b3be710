import type { Database, Sql } from "../store/sql.ts";
import type { Clock } from "./clock.ts";
import { isUniqueViolation } from "../store/sql.ts";

/** What every domain operation needs: the database, the clock, and who is asking. */
export interface Scope {
  readonly db: Database;
  readonly clock: Clock;
  readonly appId: string;
}

/** Thrown inside a transaction to roll it back while still returning a value (dry runs). */
export class Rollback<T> extends Error {
  constructor(readonly value: T) {
    super("rollback");
  }
}

/**
 * Runs `fn` in a transaction. A unique violation (two requests racing on one idempotency key or
 * external id) is retried once: the second attempt sees the winner's row and answers from it.
 */
export async function inTransaction<T>(scope: Scope, fn: (tx: Sql, nowMs: number) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await scope.db.transaction((tx) => fn(tx, scope.clock.nowMs()));
    } catch (error) {
      if (error instanceof Rollback) return error.value as T;
      if (attempt < 3 && isUniqueViolation(error)) continue;
      throw error;
    }
  }
}

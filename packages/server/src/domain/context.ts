import type { Database, Sql, TransactionOptions } from "../store/sql.ts";
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
export async function inTransaction<T>(scope: Scope, fn: (tx: Sql, nowMs: number) => Promise<T>, options?: TransactionOptions): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await scope.db.transaction((tx) => fn(tx, scope.clock.nowMs()), options);
    } catch (error) {
      if (error instanceof Rollback) return error.value as T;
      if (attempt < 3 && isUniqueViolation(error)) continue;
      throw error;
    }
  }
}

/** The lane of an operation on one account (see `TransactionOptions.lane`), by whichever id names it. */
export function accountLane(appId: string, ref: { accountId?: string | undefined; externalId?: string | undefined }): string {
  return ref.accountId !== undefined ? `${appId}/${ref.accountId}` : `${appId}/ext/${ref.externalId ?? ""}`;
}

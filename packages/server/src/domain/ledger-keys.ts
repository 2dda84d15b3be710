import type { TransactionRecord, TransactionType } from "../store/records.ts";
import { TallyError } from "./errors.ts";

/**
 * A ledger idempotency key is unique per application forever. A repeat must be the same
 * operation on the same account; anything else is a reused key, not a retry.
 */
export function assertSameOperation(
  existing: TransactionRecord,
  expected: { types: readonly TransactionType[]; accountId: string; amount?: number | undefined; unit?: string | undefined },
): void {
  const sameAmount = expected.amount === undefined || Math.abs(existing.amount) === expected.amount;
  const sameUnit = expected.unit === undefined || existing.unit === expected.unit;
  if (!expected.types.includes(existing.type) || existing.accountId !== expected.accountId || !sameAmount || !sameUnit) {
    throw new TallyError(
      "IDEMPOTENCY_KEY_REUSED",
      `Idempotency key ${JSON.stringify(existing.idempotencyKey)} was already used for a different request: ${existing.type} ${existing.id} of ${Math.abs(existing.amount)} ${existing.unit} on account ${existing.accountId}`,
      { transactionId: existing.id },
    );
  }
}

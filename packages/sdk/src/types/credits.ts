import type { PageParams } from "../core/pagination.js";
import type { Balance, Grant } from "./accounts.js";
import type { AccountRef, GrantSource, Metadata, OptionalAccountRef, Timestamp } from "./common.js";

/** Kinds of ledger entries. */
export type TransactionType = "grant" | "deduct" | "refund" | "credit" | "debit" | "reservation_capture" | "reservation_confirm" | "expiry" | "clawback";

/** Which lot paid how much of a deduct (the receipt). */
export interface Allocation {
  grantId: string;
  amount: number;
  source: string;
  expiresAt: Timestamp | null;
}

/** An immutable ledger entry. `amount` is signed: positive adds, negative removes. */
export interface Transaction {
  id: string;
  accountId: string;
  unit: string;
  type: TransactionType;
  amount: number;
  balanceAfter: number;
  idempotencyKey: string | null;
  reference: string | null;
  operation: string | null;
  description: string | null;
  metadata: Metadata;
  reservationId: string | null;
  refundOf: string | null;
  grantId: string | null;
  allocations: Allocation[];
  createdAt: Timestamp;
}

/** Body of `POST /v1/credits/grant`. An unknown `externalId` creates the account. */
export type GrantParams = AccountRef & {
  amount: number;
  /** Default `credits`. */
  unit?: string;
  expiresAt?: Timestamp;
  /** Lower burns first; default 0. */
  priority?: number;
  /** Default `manual`. */
  source?: GrantSource;
  reference?: string;
  description?: string;
  metadata?: Metadata;
  /** Unique per application forever; a repeat returns the original with `alreadyProcessed: true`. */
  idempotencyKey?: string;
  /** Alias of `idempotencyKey`. */
  usageEventId?: string;
};

/** Result of a grant. */
export interface GrantResult {
  transaction: Transaction;
  grant: Grant;
  balance: Balance;
  alreadyProcessed: boolean;
}

/** Body of `POST /v1/credits/deduct`. */
export type DeductParams = AccountRef & {
  /** Absent: the price of `operation` is used (see prices). */
  amount?: number;
  /** What the credits paid for, e.g. `app.chat.reply`. */
  operation?: string;
  unit?: string;
  /**
   * Ledger idempotency key, unique per application forever (alias `usageEventId`). When neither
   * is given the SDK uses the call's `Idempotency-Key`, so retries never deduct twice.
   */
  idempotencyKey?: string;
  /** Alias of `idempotencyKey`. */
  usageEventId?: string;
  description?: string;
  metadata?: Metadata;
  /** Report what would happen without changing anything. */
  dryRun?: boolean;
};

/** Result of a deduct. */
export interface DeductResult {
  transaction: Transaction;
  balance: Balance;
  alreadyProcessed: boolean;
}

/** Result of a `dryRun: true` deduct or reservation. */
export interface DryRunResult {
  dryRun: true;
  wouldSucceed: boolean;
  amount: number;
  unit: string;
  allocations: Allocation[];
  balance: Balance;
  /** Present when it would not succeed. */
  shortfall?: { available: number; required: number; unit: string };
}

/** Body of `POST /v1/credits/refund`. */
export interface RefundParams {
  /** The deduct (or confirm/capture) to refund. */
  transactionId: string;
  /** Default: what is left of the original. */
  amount?: number;
  reason?: string;
  idempotencyKey?: string;
  /** Alias of `idempotencyKey`. */
  usageEventId?: string;
}

/** Result of a refund. */
export interface RefundResult {
  transaction: Transaction;
  balance: Balance;
  alreadyProcessed: boolean;
}

/** Body of `POST /v1/transactions` (manual adjustment). */
export type TransactionCreateParams = AccountRef & {
  type: "credit" | "debit";
  amount: number;
  unit?: string;
  description?: string;
  metadata?: Metadata;
  idempotencyKey?: string;
  /** Alias of `idempotencyKey`. */
  usageEventId?: string;
};

/** Result of a manual transaction. */
export interface TransactionCreateResult {
  transaction: Transaction;
  balance: Balance;
  alreadyProcessed: boolean;
}

/** Query of `GET /v1/transactions`. Use `cursor` or `offset`, not both. */
export type TransactionListParams = OptionalAccountRef &
  PageParams & {
    unit?: string;
    type?: TransactionType;
    /** Inclusive lower bound on `createdAt`. */
    from?: Timestamp;
    /** Exclusive upper bound on `createdAt`. */
    to?: Timestamp;
    /** Offset pagination; the page then carries `pagination: { limit, offset, total }`. */
    offset?: number;
  };

import type { PageParams } from "../core/pagination.js";
import type { AccountRef, Metadata, OptionalAccountRef, Timestamp } from "./common.js";
import type { Transaction } from "./credits.js";

/** Who the usage was for. */
export type UsageContext = "customer" | "internal";

/** Kind of model call. */
export type UsageType = "text" | "image" | "audio" | "embedding" | "other";

/** One metered event (a model call). */
export interface UsageRecord {
  id: string;
  accountId: string;
  transactionId: string | null;
  context: UsageContext;
  modelId: string;
  usageType: UsageType;
  inputTokens: number;
  outputTokens: number;
  quantity: number;
  /** Credits charged for it (0 when not charged). */
  credits: number;
  unit: string;
  idempotencyKey: string | null;
  description: string | null;
  metadata: Metadata;
  createdAt: Timestamp;
}

/** Body of `POST /v1/usage`. */
export type UsageRecordParams = AccountRef & {
  /** Links the usage to the transaction that paid for it (e.g. a confirm). */
  transactionId?: string;
  context?: UsageContext;
  modelId: string;
  usageType: UsageType;
  inputTokens?: number;
  outputTokens?: number;
  quantity?: number;
  /** Deduct the model's price in the same database transaction (402 if short). */
  charge?: boolean;
  unit?: string;
  idempotencyKey?: string;
  description?: string;
  metadata?: Metadata;
};

/** Result of recording usage. */
export interface UsageRecordResult {
  usage: UsageRecord;
  /** Present when `charge: true`. */
  transaction?: Transaction;
  /** `true` when the idempotency key had recorded this usage already; absent otherwise. */
  alreadyProcessed?: boolean;
}

/** Query of `GET /v1/usage`. */
export type UsageListParams = OptionalAccountRef &
  PageParams & {
    context?: UsageContext;
    modelId?: string;
    from?: Timestamp;
    to?: Timestamp;
  };

/** How `GET /v1/usage/summary` groups rows. */
export type UsageGroupBy = "model" | "day" | "usageType" | "account";

/** Query of `GET /v1/usage/summary`. */
export type UsageSummaryParams = OptionalAccountRef & {
  context?: UsageContext;
  from?: Timestamp;
  to?: Timestamp;
  /** Default `model`. */
  groupBy?: UsageGroupBy;
};

/** One group of the usage summary. */
export interface UsageSummaryRow {
  key: string;
  events: number;
  inputTokens: number;
  outputTokens: number;
  quantity: number;
  credits: number;
}

/** Result of `GET /v1/usage/summary`. */
export interface UsageSummary {
  rows: UsageSummaryRow[];
}

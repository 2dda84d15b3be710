import type { PageParams } from "../core/pagination.js";
import type { SubscriptionStatus } from "./catalog.js";
import type { Timestamp } from "./common.js";
import type { TransactionType } from "./credits.js";
import type { UsageContext } from "./usage.js";

/** Query of `GET /v1/me/balance`. */
export interface MeBalanceParams {
  unit?: string;
}

/** Query of `GET /v1/me/transactions`. */
export interface MeTransactionListParams extends PageParams {
  unit?: string;
  type?: TransactionType;
  from?: Timestamp;
  to?: Timestamp;
}

/** Query of `GET /v1/me/usage`. */
export interface MeUsageListParams extends PageParams {
  context?: UsageContext;
  modelId?: string;
  from?: Timestamp;
  to?: Timestamp;
}

/** Query of `GET /v1/me/subscriptions`. */
export interface MeSubscriptionListParams extends PageParams {
  status?: SubscriptionStatus;
}

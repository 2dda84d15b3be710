import type { PageParams } from "../core/pagination.js";
import type { AccountRef, Metadata, OptionalAccountRef, Timestamp } from "./common.js";

/** A product of your catalog (what plans and add-ons belong to). */
export interface Product {
  id: string;
  name: string;
  description: string | null;
  metadata: Metadata;
  createdAt: Timestamp;
}

/** Body of `POST /v1/products`. */
export interface ProductCreateParams {
  name: string;
  description?: string;
  metadata?: Metadata;
}

/** Query of `GET /v1/products`. */
export interface ProductListParams extends PageParams {}

/** Billing interval of a plan. */
export type PlanInterval = "month" | "year" | "one_time";

/** Credits a plan grants each period. */
export interface PlanCredit {
  unit: string;
  amount: number;
  /** Keep unused credits past the period end. */
  rollover: boolean;
}

/** Credits a plan grants each period, as given to `POST /v1/plans`. */
export interface PlanCreditParams {
  unit: string;
  amount: number;
  /** Keep unused credits past the period end (default false). */
  rollover?: boolean;
}

/** A plan: a price, an interval, credits per period and features. */
export interface Plan {
  id: string;
  productId: string | null;
  name: string;
  /** In the currency's minor unit (cents). */
  priceAmount: number;
  currency: string;
  interval: PlanInterval;
  trialDays: number | null;
  credits: PlanCredit[];
  features: string[];
  createdAt: Timestamp;
}

/** Body of `POST /v1/plans`. */
export interface PlanCreateParams {
  productId?: string;
  name: string;
  priceAmount: number;
  currency: string;
  interval: PlanInterval;
  trialDays?: number;
  credits: PlanCreditParams[];
  features: string[];
}

/** Query of `GET /v1/plans`. */
export interface PlanListParams extends PageParams {
  productId?: string;
}

/** Lifecycle of a subscription. */
export type SubscriptionStatus = "trial" | "active" | "past_due" | "pending_cancel" | "canceled" | "expired";

/** An account's subscription to a plan. */
export interface Subscription {
  id: string;
  accountId: string;
  planId: string;
  productId: string | null;
  status: SubscriptionStatus;
  currentPeriodStart: Timestamp;
  currentPeriodEnd: Timestamp | null;
  cancelAtPeriodEnd: boolean;
  canceledAt: Timestamp | null;
  cancelReason: string | null;
  createdAt: Timestamp;
}

/** Body of `POST /v1/subscriptions`. */
export type SubscriptionCreateParams = AccountRef & {
  planId: string;
  /** Default `immediate`. */
  startMode?: "immediate" | "period_end";
  trialDays?: number;
};

/** Query of `GET /v1/subscriptions`. */
export type SubscriptionListParams = OptionalAccountRef &
  PageParams & {
    status?: SubscriptionStatus;
  };

/** Body of `POST /v1/subscriptions/{id}/cancel`. */
export interface SubscriptionCancelParams {
  /** Default true: keep it until the period ends. */
  atPeriodEnd?: boolean;
  reason?: string;
}

/** Query of `GET /v1/entitlements/check`. */
export type EntitlementCheckParams = AccountRef & {
  /** Absent: "has any active or trial subscription (for that product)". */
  feature?: string;
  productId?: string;
};

/** Result of an entitlement check. */
export interface EntitlementCheck {
  allowed: boolean;
  reason: "ok" | "no_subscription" | "feature_not_in_plan";
}

/** A feature an account is entitled to, and through which plan. */
export interface Entitlement {
  feature: string;
  productId: string | null;
  planId: string;
}

/** Result of `GET /v1/accounts/{accountId}/entitlements`. */
export interface EntitlementList {
  features: Entitlement[];
}

import type { PageParams } from "../core/pagination.js";
import type { GrantSource, Metadata, Timestamp } from "./common.js";

/** A customer, user, tenant or workspace that holds credits. */
export interface Account {
  id: string;
  externalId: string | null;
  name: string | null;
  email: string | null;
  metadata: Metadata;
  createdAt: Timestamp;
}

/** Body of `POST /v1/accounts`. */
export interface AccountCreateParams {
  /** Your id for the account (unique per application); 409 `ACCOUNT_EXISTS` if taken. */
  externalId?: string;
  /** `null` leaves it empty. */
  name?: string | null;
  /** `null` leaves it empty. */
  email?: string | null;
  metadata?: Metadata;
}

/** Body of `PUT /v1/accounts/external/{externalId}` (create-or-update). */
export interface AccountUpsertParams {
  /** `null` clears it. */
  name?: string | null;
  /** `null` clears it. */
  email?: string | null;
  /** Keys set to `""` are removed. */
  metadata?: Metadata;
}

/** Body of `PATCH /v1/accounts/{accountId}`. */
export interface AccountUpdateParams {
  /** `null` clears it. */
  name?: string | null;
  /** `null` clears it. */
  email?: string | null;
  /** Keys set to `""` are removed. */
  metadata?: Metadata;
}

/** Query of `GET /v1/accounts`. */
export interface AccountListParams extends PageParams {
  externalId?: string;
  email?: string;
  /** Matches the account id exactly, or externalId, email or name by prefix. */
  search?: string;
}

/** Credits of one unit on one account. `available = balance − reserved`. */
export interface Balance {
  accountId: string;
  unit: string;
  /** Posted credits. */
  balance: number;
  /** Held by live reservations. */
  reserved: number;
  /** What can be spent now. */
  available: number;
  /** The next lot to expire, if any. */
  expiringNext?: { amount: number; expiresAt: Timestamp };
}

/** `GET /v1/accounts/{accountId}/balances`: one Balance per unit. */
export interface BalanceList {
  accountId: string;
  balances: Balance[];
}

/** Query of `GET /v1/accounts/{accountId}/balance`. */
export interface BalanceParams {
  /** Default `credits`. */
  unit?: string;
}

/** A lot of credits created by a grant, burned by deducts in order. */
export interface Grant {
  id: string;
  accountId: string;
  unit: string;
  amount: number;
  remaining: number;
  reserved: number;
  consumed: number;
  expired: number;
  source: GrantSource;
  priority: number;
  expiresAt: Timestamp | null;
  reference: string | null;
  description: string | null;
  metadata: Metadata;
  transactionId: string;
  createdAt: Timestamp;
}

/** Query of `GET /v1/accounts/{accountId}/grants`. */
export interface GrantListParams extends PageParams {
  unit?: string;
  /** Only lots with credits left that have not expired. */
  active?: boolean;
}

/** Body of `PUT /v1/accounts/{accountId}/auto-topup`. */
export interface AutoTopupParams {
  /** Default `credits`. */
  unit?: string;
  threshold: number;
  addonId: string;
  enabled: boolean;
}

/** Auto top-up settings of one account and unit. */
export interface AutoTopup {
  accountId: string;
  unit: string;
  threshold: number;
  addonId: string;
  enabled: boolean;
  /** The top-up order started and not yet paid, if any (never two at once). */
  inFlightOrderId: string | null;
}

/** Body of `PUT /v1/accounts/{accountId}/spend-limits/{unit}`. */
export interface SpendLimitParams {
  perHour?: number | null;
  perDay?: number | null;
  perMonth?: number | null;
}

/** Spend limits of one account and unit (`null`: no limit), and what was spent so far. */
export interface SpendLimit {
  accountId: string;
  unit: string;
  perHour: number | null;
  perDay: number | null;
  perMonth: number | null;
  spent: SpendLimitSpent;
}

/** What an account spent in the current windows (hour, day, calendar month; UTC). */
export interface SpendLimitSpent {
  hour: number;
  day: number;
  month: number;
}

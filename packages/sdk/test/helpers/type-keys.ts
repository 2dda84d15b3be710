/**
 * Property names of the SDK's main response types, checked against the types at compile time
 * (every key listed, no extra key) and against the server's OpenAPI schemas at run time.
 */
import type {
  Account,
  Addon,
  Allocation,
  ApiKey,
  App,
  Balance,
  Grant,
  Invoice,
  Order,
  Plan,
  Price,
  Product,
  Reservation,
  Subscription,
  Transaction,
  Unit,
  UsageRecord,
  WebhookEndpoint,
} from "../../src/index.ts";

type Missing<T, K extends readonly PropertyKey[]> = Exclude<keyof T, K[number]>;

/** `keysOf<T>()([...])` compiles only when the list names every key of T (and nothing else). */
function keysOf<T>() {
  return <const K extends readonly (keyof T)[]>(keys: K & ([Missing<T, K>] extends [never] ? unknown : { missingKeys: Missing<T, K> })): readonly string[] =>
    keys as readonly PropertyKey[] as readonly string[];
}

export const SDK_TYPE_KEYS: Record<string, readonly string[]> = {
  Account: keysOf<Account>()(["id", "externalId", "name", "email", "metadata", "createdAt"]),
  Balance: keysOf<Balance>()(["accountId", "unit", "balance", "reserved", "available", "expiringNext"]),
  Allocation: keysOf<Allocation>()(["grantId", "amount", "source", "expiresAt"]),
  Transaction: keysOf<Transaction>()([
    "id",
    "accountId",
    "unit",
    "type",
    "amount",
    "balanceAfter",
    "idempotencyKey",
    "reference",
    "operation",
    "description",
    "metadata",
    "reservationId",
    "refundOf",
    "grantId",
    "allocations",
    "createdAt",
  ]),
  Grant: keysOf<Grant>()([
    "id",
    "accountId",
    "unit",
    "amount",
    "remaining",
    "reserved",
    "consumed",
    "expired",
    "source",
    "priority",
    "expiresAt",
    "reference",
    "description",
    "metadata",
    "transactionId",
    "createdAt",
  ]),
  Reservation: keysOf<Reservation>()([
    "id",
    "accountId",
    "unit",
    "amount",
    "capturedAmount",
    "status",
    "expiresAt",
    "confirmedAmount",
    "transactionId",
    "operation",
    "reference",
    "description",
    "metadata",
    "createdAt",
  ]),
  UsageRecord: keysOf<UsageRecord>()([
    "id",
    "accountId",
    "transactionId",
    "context",
    "modelId",
    "usageType",
    "inputTokens",
    "outputTokens",
    "quantity",
    "credits",
    "unit",
    "idempotencyKey",
    "description",
    "metadata",
    "createdAt",
  ]),
  Price: keysOf<Price>()(["id", "key", "unit", "amount", "modelId", "inputPerMillion", "outputPerMillion", "perRequest", "createdAt", "updatedAt"]),
  Unit: keysOf<Unit>()(["unit", "name", "decimals", "createdAt", "updatedAt"]),
  App: keysOf<App>()(["id", "name", "endUserAuth", "createdAt"]),
  ApiKey: keysOf<ApiKey>()(["id", "name", "type", "scopes", "hint", "createdAt", "revokedAt", "lastUsedAt"]),
  // Compared once the server publishes them (commerce).
  Product: keysOf<Product>()(["id", "name", "description", "metadata", "createdAt"]),
  Plan: keysOf<Plan>()(["id", "productId", "name", "priceAmount", "currency", "interval", "trialDays", "credits", "features", "createdAt"]),
  Subscription: keysOf<Subscription>()([
    "id",
    "accountId",
    "planId",
    "productId",
    "status",
    "currentPeriodStart",
    "currentPeriodEnd",
    "cancelAtPeriodEnd",
    "canceledAt",
    "cancelReason",
    "createdAt",
  ]),
  Addon: keysOf<Addon>()(["id", "productId", "name", "unit", "creditQty", "priceAmount", "currency", "expiresInDays", "createdAt"]),
  Order: keysOf<Order>()(["id", "accountId", "productId", "planId", "addonId", "status", "amount", "currency", "providerRef", "createdAt"]),
  Invoice: keysOf<Invoice>()(["id", "orderId", "amount", "currency", "status", "lines", "hostedUrl", "createdAt"]),
  WebhookEndpoint: keysOf<WebhookEndpoint>()(["id", "url", "events", "secret", "createdAt"]),
};

/** Schemas the server must publish under exactly these names. */
export const REQUIRED_SCHEMAS = ["Account", "Balance", "Transaction", "Reservation", "UsageRecord", "Price", "App", "ApiKey"] as const;

import { Type } from "typebox";
import { Metadata, NullableTimestamp, Timestamp } from "./common.ts";

/** Commerce shapes for the OpenAPI document (titles become component names). */
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const NullableString = Nullable(Type.String());

export const Product = Type.Object({ id: Type.String(), name: Type.String(), description: NullableString, metadata: Metadata, createdAt: Timestamp }, { title: "Product" });

export const PlanCredit = Type.Object({ unit: Type.String(), amount: Type.Integer(), rollover: Type.Boolean() });
export const Plan = Type.Object(
  {
    id: Type.String(),
    productId: NullableString,
    name: Type.String(),
    priceAmount: Type.Integer(),
    currency: Type.String(),
    interval: Type.Union([Type.Literal("month"), Type.Literal("year"), Type.Literal("one_time")]),
    trialDays: Type.Union([Type.Integer(), Type.Null()]),
    credits: Type.Array(PlanCredit),
    features: Type.Array(Type.String()),
    createdAt: Timestamp,
  },
  { title: "Plan" },
);

export const Addon = Type.Object(
  {
    id: Type.String(),
    productId: NullableString,
    name: Type.String(),
    unit: Type.String(),
    creditQty: Type.Integer(),
    priceAmount: Type.Integer(),
    currency: Type.String(),
    expiresInDays: Type.Union([Type.Integer(), Type.Null()]),
    createdAt: Timestamp,
  },
  { title: "Addon" },
);

export const SubscriptionStatus = Type.Union(["trial", "active", "past_due", "pending_cancel", "canceled", "expired"].map((s) => Type.Literal(s)));
export const Subscription = Type.Object(
  {
    id: Type.String(),
    accountId: Type.String(),
    planId: Type.String(),
    productId: NullableString,
    status: SubscriptionStatus,
    currentPeriodStart: Timestamp,
    currentPeriodEnd: NullableTimestamp,
    cancelAtPeriodEnd: Type.Boolean(),
    canceledAt: NullableTimestamp,
    cancelReason: NullableString,
    createdAt: Timestamp,
  },
  { title: "Subscription" },
);

export const OrderStatus = Type.Union(["pending", "paid", "canceled", "refunded"].map((s) => Type.Literal(s)));
export const Order = Type.Object(
  {
    id: Type.String(),
    accountId: Type.String(),
    productId: NullableString,
    planId: NullableString,
    addonId: NullableString,
    status: OrderStatus,
    amount: Type.Integer(),
    currency: Type.String(),
    providerRef: NullableString,
    provider: Type.String(),
    checkoutUrl: NullableString,
    subscriptionId: NullableString,
    createdAt: Timestamp,
    paidAt: NullableTimestamp,
    refundedAt: NullableTimestamp,
  },
  { title: "Order" },
);

export const Invoice = Type.Object(
  {
    id: Type.String(),
    orderId: NullableString,
    subscriptionId: NullableString,
    accountId: Type.String(),
    amount: Type.Integer(),
    currency: Type.String(),
    status: Type.String(),
    lines: Type.Array(Type.Object({ description: Type.String(), amount: Type.Integer(), quantity: Type.Integer() })),
    hostedUrl: Type.String(),
    createdAt: Timestamp,
  },
  { title: "Invoice" },
);

export const WebhookEndpoint = Type.Object(
  {
    id: Type.String(),
    url: Type.String(),
    events: Type.Array(Type.String()),
    balanceLowThreshold: Type.Union([Type.Integer(), Type.Null()]),
    createdAt: Timestamp,
    secret: Type.Optional(Type.String()),
  },
  { title: "WebhookEndpoint" },
);

export const WebhookDelivery = Type.Object(
  {
    id: Type.String(),
    endpointId: Type.String(),
    eventId: Type.String(),
    type: Type.String(),
    status: Type.Union([Type.Literal("pending"), Type.Literal("delivered"), Type.Literal("failed")]),
    attempts: Type.Integer(),
    nextAttemptAt: NullableTimestamp,
    lastStatusCode: Type.Union([Type.Integer(), Type.Null()]),
    lastError: NullableString,
    createdAt: Timestamp,
    deliveredAt: NullableTimestamp,
    payload: Type.Unknown(),
    attemptLog: Type.Array(Type.Object({ attempt: Type.Integer(), at: Timestamp, statusCode: Type.Union([Type.Integer(), Type.Null()]), error: NullableString, durationMs: Type.Integer() })),
  },
  { title: "WebhookDelivery" },
);

const NullableAmount = Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]);

export const SpendLimit = Type.Object(
  {
    accountId: Type.String(), unit: Type.String(), perHour: NullableAmount, perDay: NullableAmount, perMonth: NullableAmount,
    spent: Type.Object({ hour: Type.Integer(), day: Type.Integer(), month: Type.Integer() }),
  },
  { title: "SpendLimit" },
);

export const AutoTopup = Type.Object(
  { accountId: Type.String(), unit: Type.String(), threshold: Type.Integer(), addonId: Type.String(), enabled: Type.Boolean(), inFlightOrderId: Type.Union([Type.String(), Type.Null()]) },
  { title: "AutoTopup" },
);

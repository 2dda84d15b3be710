import { Type } from "typebox";
import { Amount, Id, Metadata, NonNegativeAmount, NullableShortString, NullableTimestamp, SignedAmount, Timestamp, Unit } from "./common.ts";

/**
 * The public shapes. Each has a `title`, which becomes its name under `components.schemas` in
 * the OpenAPI document (the SDK's type test compares against these names).
 */
export const Account = Type.Object(
  {
    id: Type.String(),
    externalId: Type.Union([Type.String(), Type.Null()]),
    name: Type.Union([Type.String(), Type.Null()]),
    email: Type.Union([Type.String(), Type.Null()]),
    metadata: Metadata,
    createdAt: Timestamp,
  },
  { title: "Account" },
);

export const Balance = Type.Object(
  {
    accountId: Type.String(),
    unit: Type.String(),
    balance: Type.Integer(),
    reserved: Type.Integer(),
    available: Type.Integer(),
    expiringNext: Type.Optional(Type.Object({ amount: Type.Integer(), expiresAt: Timestamp })),
  },
  { title: "Balance" },
);

export const Allocation = Type.Object(
  { grantId: Type.String(), amount: Type.Integer(), source: Type.String(), expiresAt: NullableTimestamp },
  { title: "Allocation" },
);

export const TransactionType = Type.Union(
  ["grant", "deduct", "refund", "credit", "debit", "reservation_capture", "reservation_confirm", "expiry", "clawback"].map((t) => Type.Literal(t)),
);

export const Transaction = Type.Object(
  {
    id: Type.String(),
    accountId: Type.String(),
    unit: Type.String(),
    type: TransactionType,
    amount: SignedAmount,
    balanceAfter: Type.Integer(),
    idempotencyKey: NullableShortString,
    reference: NullableShortString,
    operation: NullableShortString,
    description: Type.Union([Type.String(), Type.Null()]),
    metadata: Metadata,
    reservationId: Type.Union([Type.String(), Type.Null()]),
    refundOf: Type.Union([Type.String(), Type.Null()]),
    grantId: Type.Union([Type.String(), Type.Null()]),
    allocations: Type.Array(Allocation),
    createdAt: Timestamp,
  },
  { title: "Transaction" },
);

export const LotSource = Type.Union(["purchase", "promotional", "plan", "addon", "refund", "manual"].map((s) => Type.Literal(s)));

export const Grant = Type.Object(
  {
    id: Type.String(),
    accountId: Type.String(),
    unit: Type.String(),
    amount: Amount,
    remaining: NonNegativeAmount,
    reserved: NonNegativeAmount,
    consumed: NonNegativeAmount,
    expired: NonNegativeAmount,
    source: LotSource,
    priority: Type.Integer(),
    expiresAt: NullableTimestamp,
    reference: NullableShortString,
    description: Type.Union([Type.String(), Type.Null()]),
    metadata: Metadata,
    transactionId: Type.String(),
    createdAt: Timestamp,
  },
  { title: "Grant" },
);

export const ReservationStatus = Type.Union(["held", "confirmed", "canceled", "expired"].map((s) => Type.Literal(s)));

export const Reservation = Type.Object(
  {
    id: Type.String(),
    accountId: Type.String(),
    unit: Type.String(),
    amount: Amount,
    capturedAmount: NonNegativeAmount,
    status: ReservationStatus,
    expiresAt: Timestamp,
    confirmedAmount: Type.Union([Type.Integer(), Type.Null()]),
    transactionId: Type.Union([Type.String(), Type.Null()]),
    operation: NullableShortString,
    reference: NullableShortString,
    description: Type.Union([Type.String(), Type.Null()]),
    metadata: Metadata,
    createdAt: Timestamp,
  },
  { title: "Reservation" },
);

export const UsageContext = Type.Union([Type.Literal("customer"), Type.Literal("internal")]);
export const UsageType = Type.Union(["text", "image", "audio", "embedding", "other"].map((s) => Type.Literal(s)));

export const UsageRecord = Type.Object(
  {
    id: Type.String(),
    accountId: Type.String(),
    transactionId: Type.Union([Type.String(), Type.Null()]),
    context: UsageContext,
    modelId: Type.String(),
    usageType: UsageType,
    inputTokens: Type.Integer(),
    outputTokens: Type.Integer(),
    quantity: Type.Integer(),
    credits: Type.Integer(),
    unit: Type.String(),
    idempotencyKey: NullableShortString,
    description: Type.Union([Type.String(), Type.Null()]),
    metadata: Metadata,
    createdAt: Timestamp,
  },
  { title: "UsageRecord" },
);

export const Price = Type.Object(
  {
    id: Type.String(),
    key: Type.String(),
    unit: Type.String(),
    amount: Type.Union([Type.Integer(), Type.Null()]),
    modelId: Type.Union([Type.String(), Type.Null()]),
    inputPerMillion: Type.Union([Type.Integer(), Type.Null()]),
    outputPerMillion: Type.Union([Type.Integer(), Type.Null()]),
    perRequest: Type.Union([Type.Integer(), Type.Null()]),
    createdAt: Timestamp,
    updatedAt: Timestamp,
  },
  { title: "Price" },
);

export const UnitInfo = Type.Object(
  { unit: Unit, name: Type.Union([Type.String(), Type.Null()]), decimals: Type.Integer(), createdAt: Timestamp, updatedAt: Timestamp },
  { title: "Unit" },
);

export const EndUserAuth = Type.Object(
  {
    algorithm: Type.Union([Type.Literal("HS256"), Type.Literal("RS256"), Type.Literal("ES256")]),
    secret: Type.Optional(Type.String({ minLength: 16, maxLength: 4096 })),
    publicKey: Type.Optional(Type.String({ minLength: 16, maxLength: 16_384 })),
    jwksUrl: Type.Optional(Type.String({ minLength: 8, maxLength: 2048, format: "uri" })),
    subjectClaim: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })),
    issuer: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    audience: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
  },
  { additionalProperties: false, title: "EndUserAuth" },
);

export const App = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    endUserAuth: Type.Union([
      Type.Object({
        algorithm: Type.String(),
        subjectClaim: Type.String(),
        issuer: Type.Optional(Type.String()),
        audience: Type.Optional(Type.String()),
        jwksUrl: Type.Optional(Type.String()),
        hasSecret: Type.Boolean(),
        hasPublicKey: Type.Boolean(),
      }),
      Type.Null(),
    ]),
    createdAt: Timestamp,
  },
  { title: "App" },
);

export const KeyScope = Type.Union([Type.Literal("read"), Type.Literal("write"), Type.Literal("admin")]);

export const ApiKey = Type.Object(
  {
    id: Type.String(),
    name: Type.String(),
    type: Type.Union([Type.Literal("secret"), Type.Literal("hmac")]),
    scopes: Type.Array(KeyScope),
    hint: Type.String({ description: "Last characters of the key, to tell keys apart" }),
    createdAt: Timestamp,
    revokedAt: NullableTimestamp,
    lastUsedAt: NullableTimestamp,
  },
  { title: "ApiKey" },
);

export { Id };

/** Rows as the domain sees them: camelCase, timestamps in epoch milliseconds, JSON parsed. */
export type Metadata = Record<string, string>;

export interface AppRecord {
  id: string;
  name: string;
  endUserAuth: EndUserAuthConfig | null;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface EndUserAuthConfig {
  algorithm: "HS256" | "RS256" | "ES256";
  /** HS256 secret in plain text: only in configurations stored before secrets were sealed. */
  secret?: string;
  /** HS256 secret sealed under the server's master key (see auth/sealing.ts). */
  secretSealed?: string;
  publicKey?: string;
  jwksUrl?: string;
  subjectClaim: string;
  issuer?: string;
  audience?: string;
}

export type KeyScope = "read" | "write" | "admin";

export interface ApiKeyRecord {
  appId: string;
  id: string;
  name: string;
  type: "secret" | "hmac";
  scopes: KeyScope[];
  secretHash: string;
  secretSealed: string | null;
  hint: string;
  createdAtMs: number;
  revokedAtMs: number | null;
  lastUsedAtMs: number | null;
}

export interface AccountRecord {
  id: string;
  externalId: string | null;
  name: string | null;
  email: string | null;
  metadata: Metadata;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface BalanceRecord {
  accountId: string;
  unit: string;
  balance: number;
  reserved: number;
  nextDueAtMs: number | null;
  /** Bits of `COMMERCE_FLAGS` (spend limit, auto top-up): read with the lock, so accounts without them pay nothing. */
  commerceFlags?: number;
}

export type LotSource = "purchase" | "promotional" | "plan" | "addon" | "refund" | "manual";

export interface LotRecord {
  id: string;
  accountId: string;
  unit: string;
  amount: number;
  remaining: number;
  held: number;
  consumed: number;
  expired: number;
  priority: number;
  expiresAtMs: number | null;
  source: LotSource;
  reference: string | null;
  description: string | null;
  metadata: Metadata;
  transactionId: string;
  createdAtMs: number;
}

export type TransactionType =
  | "grant"
  | "deduct"
  | "refund"
  | "credit"
  | "debit"
  | "reservation_capture"
  | "reservation_confirm"
  | "expiry"
  | "clawback";

export interface Allocation {
  grantId: string;
  amount: number;
  source: LotSource;
  expiresAtMs: number | null;
}

export interface TransactionRecord {
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
  createdAtMs: number;
}

export type ReservationStatus = "held" | "confirmed" | "canceled" | "expired";

/** Credits a reservation holds in one lot. */
export interface Hold {
  lotId: string;
  amount: number;
}

export interface ReservationRecord {
  id: string;
  accountId: string;
  unit: string;
  amount: number;
  capturedAmount: number;
  status: ReservationStatus;
  expiresAtMs: number;
  confirmedAmount: number | null;
  transactionId: string | null;
  operation: string | null;
  reference: string | null;
  description: string | null;
  metadata: Metadata;
  holds: Hold[];
  idempotencyKey: string | null;
  resolutionKey: string | null;
  resolution: string | null;
  createdAtMs: number;
  resolvedAtMs: number | null;
}

export type UsageContext = "customer" | "internal";
export type UsageType = "text" | "image" | "audio" | "embedding" | "other";

export interface UsageRecordRow {
  id: string;
  accountId: string;
  transactionId: string | null;
  context: UsageContext;
  modelId: string;
  usageType: UsageType;
  inputTokens: number;
  outputTokens: number;
  quantity: number;
  credits: number;
  unit: string;
  idempotencyKey: string | null;
  description: string | null;
  metadata: Metadata;
  createdAtMs: number;
}

export interface PriceRecord {
  key: string;
  id: string;
  unit: string;
  amount: number | null;
  modelId: string | null;
  inputPerMillion: number | null;
  outputPerMillion: number | null;
  perRequest: number | null;
  createdAtMs: number;
  updatedAtMs: number;
}

export interface UnitRecord {
  unit: string;
  name: string | null;
  decimals: number;
  createdAtMs: number;
  updatedAtMs: number;
}

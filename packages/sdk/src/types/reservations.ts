import type { PageParams } from "../core/pagination.js";
import type { Balance } from "./accounts.js";
import type { AccountRef, Metadata, Timestamp } from "./common.js";
import type { Transaction } from "./credits.js";

/** Lifecycle of a hold. */
export type ReservationStatus = "held" | "confirmed" | "canceled" | "expired";

/** A hold on credits while work runs. */
export interface Reservation {
  id: string;
  accountId: string;
  unit: string;
  amount: number;
  /** Settled so far by captures. */
  capturedAmount: number;
  status: ReservationStatus;
  expiresAt: Timestamp;
  confirmedAmount: number | null;
  transactionId: string | null;
  operation: string | null;
  reference: string | null;
  description: string | null;
  metadata: Metadata;
  createdAt: Timestamp;
}

/** Body of `POST /v1/reservations`. */
export type ReservationCreateParams = AccountRef & {
  /** Absent: the price of `operation` is held (see prices). */
  amount?: number;
  unit?: string;
  /** Default 600, max 7 days. */
  ttlSeconds?: number;
  operation?: string;
  reference?: string;
  description?: string;
  metadata?: Metadata;
  idempotencyKey?: string;
  /** Alias of `idempotencyKey`. */
  usageEventId?: string;
  /** Report what would happen without holding anything. */
  dryRun?: boolean;
};

/** Result of `POST /v1/reservations`: the reservation, with the balance after the hold. */
export type ReservationCreateResult = Reservation & {
  balance: Balance;
  /** `true` when the idempotency key had made this hold already (nothing new was held); absent otherwise. */
  alreadyProcessed?: boolean;
};

/** Body of `POST /v1/reservations/{id}/confirm`. */
export interface ReservationConfirmParams {
  /** Total to charge, captures included. Default: the reserved amount. */
  amount?: number;
  description?: string;
  idempotencyKey?: string;
}

/** Result of a confirm. */
export interface ReservationConfirmResult {
  reservation: Reservation;
  transaction: Transaction;
  balance: Balance;
  /** `true` when this repeats an earlier call with the same idempotency key; absent otherwise. */
  alreadyProcessed?: boolean;
}

/** Body of `POST /v1/reservations/{id}/cancel`. */
export interface ReservationCancelParams {
  reason?: string;
  idempotencyKey?: string;
}

/** Result of a cancel. */
export interface ReservationCancelResult {
  reservation: Reservation;
  balance: Balance;
  /** `true` when this repeats an earlier call with the same idempotency key; absent otherwise. */
  alreadyProcessed?: boolean;
}

/** Body of `POST /v1/reservations/{id}/capture`. */
export interface ReservationCaptureParams {
  amount: number;
  idempotencyKey?: string;
}

/** Result of a capture: part settled now, the rest still held. */
export interface ReservationCaptureResult {
  reservation: Reservation;
  transaction: Transaction;
  balance: Balance;
  /** `true` when this repeats an earlier call with the same idempotency key; absent otherwise. */
  alreadyProcessed?: boolean;
}

/** Body of `POST /v1/reservations/{id}/extend`. */
export interface ReservationExtendParams {
  ttlSeconds: number;
}

/** Query of `GET /v1/reservations`. */
export interface ReservationListParams extends PageParams {
  /** One account's reservations (by our id or your `externalId`); an unknown account is 404. */
  accountId?: string;
  externalId?: string;
  status?: ReservationStatus;
}

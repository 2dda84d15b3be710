import type { PageParams } from "../core/pagination.js";
import type { Timestamp } from "./common.js";

/** Events an endpoint can subscribe to. */
export type WebhookEventType =
  | "credits.granted"
  | "credits.deducted"
  | "credits.expired"
  | "balance.low"
  | "reservation.expired"
  | "subscription.renewed"
  | "subscription.canceled"
  | "order.paid";

/** What an endpoint subscribes to: event names, or `"*"` for every event. */
export type WebhookEventSelector = WebhookEventType | "*";

/** Where Tally posts events. */
export interface WebhookEndpoint {
  id: string;
  url: string;
  events: WebhookEventSelector[];
  /** This endpoint's `balance.low` threshold; `null`: the account's metadata `balanceLowThreshold`, if any. */
  balanceLowThreshold: number | null;
  /** Shown only when the endpoint is created. */
  secret?: string;
  createdAt: Timestamp;
}

/** Body of `POST /v1/webhook-endpoints`. */
export interface WebhookEndpointCreateParams {
  url: string;
  /** 1–20 event names, or `["*"]` for every event. */
  events: WebhookEventSelector[];
  /** Signing secret; generated when absent. */
  secret?: string;
  /** `balance.low` fires when available falls below this (default: the account's metadata `balanceLowThreshold`). */
  balanceLowThreshold?: number;
}

/** Result of `DELETE /v1/webhook-endpoints/{endpointId}`. */
export interface WebhookEndpointDeleteResult {
  id: string;
  deleted: boolean;
}

/** Query of `GET /v1/webhook-endpoints`. */
export interface WebhookEndpointListParams extends PageParams {}

/** The body Tally posts (signed with the endpoint's secret in `tally-signature`). */
export interface WebhookEvent {
  /** The event id (`evt_…`), the same for every endpoint it goes to. */
  id: string;
  type: WebhookEventType;
  createdAt: Timestamp;
  data: Record<string, unknown>;
}

/** State of a delivery: `pending` until a 2xx answer (`delivered`) or 24 hours of failures (`failed`). */
export type WebhookDeliveryStatus = "pending" | "delivered" | "failed";

/** One attempt to deliver an event. */
export interface WebhookDeliveryAttempt {
  /** 1 for the first attempt. */
  attempt: number;
  at: Timestamp;
  /** The endpoint's HTTP status; `null` when no answer came (network error, timeout). */
  statusCode: number | null;
  error: string | null;
  durationMs: number;
}

/** One event's delivery to one endpoint, with its attempts. */
export interface WebhookDelivery {
  id: string;
  endpointId: string;
  eventId: string;
  type: WebhookEventType;
  status: WebhookDeliveryStatus;
  /** Attempts made so far. */
  attempts: number;
  /** When the next attempt is due; `null` once delivered or failed. */
  nextAttemptAt: Timestamp | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdAt: Timestamp;
  deliveredAt: Timestamp | null;
  /** The body that is posted. */
  payload: WebhookEvent;
  attemptLog: WebhookDeliveryAttempt[];
}

/** Query of `GET /v1/webhook-endpoints/{id}/deliveries`. */
export interface WebhookDeliveryListParams extends PageParams {}

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

/** Where Tally posts events. */
export interface WebhookEndpoint {
  id: string;
  url: string;
  events: WebhookEventType[];
  /** Shown only when the endpoint is created. */
  secret?: string;
  createdAt: Timestamp;
}

/** Body of `POST /v1/webhook-endpoints`. */
export interface WebhookEndpointCreateParams {
  url: string;
  events: WebhookEventType[];
  /** Signing secret; generated when absent. */
  secret?: string;
}

/** Query of `GET /v1/webhook-endpoints`. */
export interface WebhookEndpointListParams extends PageParams {}

/** One delivery attempt of one event. */
export interface WebhookDelivery {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: WebhookEventType;
  attempt: number;
  status: "pending" | "succeeded" | "failed";
  responseStatus: number | null;
  error: string | null;
  nextAttemptAt: Timestamp | null;
  createdAt: Timestamp;
}

/** Query of `GET /v1/webhook-endpoints/{id}/deliveries`. */
export interface WebhookDeliveryListParams extends PageParams {}

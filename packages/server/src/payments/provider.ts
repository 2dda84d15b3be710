import type { OrderRecord } from "../store/repo/orders.ts";
import type { PlanInterval } from "../store/repo/catalog.ts";

/**
 * How an order gets paid. `manual`: the order stays pending until an operator marks it paid.
 * `stripe`: a Stripe Checkout Session; Stripe's signed webhook fulfils it. Fulfilment itself is
 * provider-independent (`domain/orders.ts fulfilOrder`), exactly once per order.
 */
export interface CheckoutRequest {
  appId: string;
  order: OrderRecord;
  /** What the customer sees on the payment page. */
  name: string;
  /** A plan's interval; null for an add-on. */
  interval: PlanInterval | null;
  successUrl: string;
  cancelUrl: string;
  /** This server's public base URL, for hosted pages. */
  baseUrl: string;
}

export interface CheckoutResult {
  /** The provider's id for the checkout (null for manual). */
  providerRef: string | null;
  checkoutUrl: string;
}

/** What a verified provider webhook asks Tally to do. */
export type PaymentEvent =
  | { kind: "paid"; appId: string; orderId: string; providerRef: string; paymentRef: string | null }
  | { kind: "refunded"; appId: string; orderId: string; paymentRef: string | null }
  | { kind: "subscription"; appId: string; orderId: string; status: "past_due" | "active" | "canceled" }
  | { kind: "ignored"; type: string };

export interface PaymentProvider {
  readonly name: "manual" | "stripe";
  createCheckout(request: CheckoutRequest): Promise<CheckoutResult>;
  /** Returns the money of a paid order (no-op for manual: the operator refunds outside Tally). */
  refund(order: OrderRecord): Promise<void>;
  /** Verifies and reads a provider webhook; throws on a bad signature. */
  parseWebhook?(rawBody: string, signature: string | undefined): PaymentEvent;
}

export interface PaymentsConfig {
  provider: "manual" | "stripe";
  stripeSecretKey?: string | undefined;
  stripeWebhookSecret?: string | undefined;
  /** Where Stripe's API is, e.g. `http://127.0.0.1:12111` for a local stand-in; default Stripe. */
  stripeApiBase?: string | undefined;
}

/** Reads `TALLY_PAYMENT_PROVIDER`, `STRIPE_SECRET_KEY`, `STRIPE_WEBHOOK_SECRET`, `STRIPE_API_BASE`. */
export function paymentsConfigFromEnv(env: Record<string, string | undefined>): PaymentsConfig {
  const provider = env["TALLY_PAYMENT_PROVIDER"] ?? "manual";
  if (provider !== "manual" && provider !== "stripe") throw new Error("TALLY_PAYMENT_PROVIDER must be manual or stripe");
  if (provider === "stripe" && (env["STRIPE_SECRET_KEY"] === undefined || env["STRIPE_WEBHOOK_SECRET"] === undefined)) {
    throw new Error("TALLY_PAYMENT_PROVIDER=stripe needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET");
  }
  return { provider, stripeSecretKey: env["STRIPE_SECRET_KEY"], stripeWebhookSecret: env["STRIPE_WEBHOOK_SECRET"], stripeApiBase: env["STRIPE_API_BASE"] };
}

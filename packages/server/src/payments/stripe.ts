import Stripe from "stripe";
import type { CheckoutRequest, CheckoutResult, PaymentEvent, PaymentProvider, PaymentsConfig } from "./provider.ts";
import type { OrderRecord } from "../store/repo/orders.ts";
import { TallyError } from "../domain/errors.ts";

/**
 * Stripe through its official library. Each order is one Checkout Session whose metadata (and,
 * for one-off payments, its PaymentIntent's metadata) carries `tally_app_id` and
 * `tally_order_id`: that is how the single public webhook route finds the application and the
 * order. Webhooks are verified with `stripe.webhooks.constructEvent`.
 */
export class StripeProvider implements PaymentProvider {
  readonly name = "stripe" as const;
  private readonly stripe: Stripe;
  private readonly webhookSecret: string;

  constructor(config: PaymentsConfig) {
    if (config.stripeSecretKey === undefined || config.stripeWebhookSecret === undefined) throw new Error("Stripe needs STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET");
    const options: Stripe.StripeConfig = { maxNetworkRetries: 2, timeout: 20_000, telemetry: false };
    if (config.stripeApiBase !== undefined) {
      const base = new URL(config.stripeApiBase);
      options.host = base.hostname;
      options.port = base.port === "" ? (base.protocol === "http:" ? 80 : 443) : Number(base.port);
      options.protocol = base.protocol === "http:" ? "http" : "https";
    }
    this.stripe = new Stripe(config.stripeSecretKey, options);
    this.webhookSecret = config.stripeWebhookSecret;
  }

  async createCheckout(request: CheckoutRequest): Promise<CheckoutResult> {
    try {
      return await this.createSession(request);
    } catch (error) {
      throw asTallyError(error);
    }
  }

  private async createSession(request: CheckoutRequest): Promise<CheckoutResult> {
    const { order } = request;
    const metadata = { tally_app_id: request.appId, tally_order_id: order.id };
    const recurring = request.interval === "month" || request.interval === "year";
    const session = await this.stripe.checkout.sessions.create(
      {
        mode: recurring ? "subscription" : "payment",
        client_reference_id: order.id,
        success_url: request.successUrl,
        cancel_url: request.cancelUrl,
        metadata,
        line_items: [
          {
            quantity: 1,
            price_data: {
              currency: order.currency,
              unit_amount: order.amount,
              product_data: { name: request.name },
              ...(recurring ? { recurring: { interval: request.interval as "month" | "year" } } : {}),
            },
          },
        ],
        ...(recurring ? { subscription_data: { metadata } } : { payment_intent_data: { metadata } }),
      },
      { idempotencyKey: `tally-checkout-${request.appId}-${order.id}` },
    );
    if (session.url === null) throw new Error("Stripe returned a Checkout Session without a url");
    return { providerRef: session.id, checkoutUrl: session.url };
  }

  async refund(order: OrderRecord): Promise<void> {
    if (order.paymentRef === null) return;
    try {
      await this.stripe.refunds.create({ payment_intent: order.paymentRef }, { idempotencyKey: `tally-refund-${order.id}` });
    } catch (error) {
      throw asTallyError(error);
    }
  }

  parseWebhook(rawBody: string, signature: string | undefined): PaymentEvent {
    if (signature === undefined) throw new Error("missing stripe-signature header");
    const event = this.stripe.webhooks.constructEvent(rawBody, signature, this.webhookSecret);
    if (event.type === "checkout.session.completed") {
      const session = event.data.object;
      const appId = session.metadata?.["tally_app_id"];
      const orderId = session.metadata?.["tally_order_id"] ?? session.client_reference_id ?? undefined;
      if (appId === undefined || orderId === undefined) return { kind: "ignored", type: event.type };
      if (session.payment_status === "unpaid") return { kind: "ignored", type: event.type };
      const pi = session.payment_intent;
      return { kind: "paid", appId, orderId, providerRef: session.id, paymentRef: typeof pi === "string" ? pi : pi?.id ?? null };
    }
    if (event.type === "charge.refunded") {
      const charge = event.data.object;
      const appId = charge.metadata?.["tally_app_id"];
      const orderId = charge.metadata?.["tally_order_id"];
      // A partial refund leaves the order paid: credits are clawed back only for a full refund.
      if (appId === undefined || orderId === undefined || charge.refunded !== true) return { kind: "ignored", type: event.type };
      const pi = charge.payment_intent;
      return { kind: "refunded", appId, orderId, paymentRef: typeof pi === "string" ? pi : pi?.id ?? null };
    }
    if (event.type === "customer.subscription.updated" || event.type === "customer.subscription.deleted") {
      // Stripe bills the renewals of a subscription bought through Checkout; its state drives ours.
      const sub = event.data.object;
      const appId = sub.metadata?.["tally_app_id"];
      const orderId = sub.metadata?.["tally_order_id"];
      if (appId === undefined || orderId === undefined) return { kind: "ignored", type: event.type };
      if (event.type === "customer.subscription.deleted" || sub.status === "canceled" || sub.status === "incomplete_expired") return { kind: "subscription", appId, orderId, status: "canceled" };
      if (sub.status === "past_due" || sub.status === "unpaid") return { kind: "subscription", appId, orderId, status: "past_due" };
      if (sub.status === "active" || sub.status === "trialing") return { kind: "subscription", appId, orderId, status: "active" };
      return { kind: "ignored", type: `${event.type} (${sub.status})` };
    }
    return { kind: "ignored", type: event.type };
  }
}

/** Stripe's refusals of a request are the caller's to fix (400); anything else means Stripe is unavailable (503). */
function asTallyError(error: unknown): TallyError {
  if (error instanceof Stripe.errors.StripeInvalidRequestError || error instanceof Stripe.errors.StripeCardError) {
    return new TallyError("VALIDATION_ERROR", `Stripe refused the request: ${error.message}`, { issues: [{ path: "/", message: error.message }] });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new TallyError("UNAVAILABLE", `The payment provider is unavailable: ${message}`);
}

/** The Stripe library's own test helper: a valid `stripe-signature` header for `payload`. */
export function stripeTestSignature(payload: string, secret: string): string {
  return Stripe.webhooks.generateTestHeaderString({ payload, secret });
}

import { Type } from "typebox";
import type { Router } from "../router.ts";
import type { RouteDeps } from "./deps.ts";
import { AccountRefFields, Id, IdempotencyKey, IdParams, strictObject } from "../schemas/common.ts";
import { Addon, Order } from "../schemas/commerce.ts";
import { Grant } from "../schemas/models.ts";
import { baseUrlOf, presentCommerce as p } from "../present-commerce.ts";
import { present } from "../present.ts";
import * as orders from "../../domain/orders.ts";
import * as catalog from "../../domain/catalog.ts";
import { checkAccountRef, requireAccount } from "../../domain/accounts.ts";
import { TallyError, validationError } from "../../domain/errors.ts";
import { ManualProvider } from "../../payments/manual.ts";
import { applyProviderStatus } from "../../domain/subscriptions.ts";
import type { PaymentProvider } from "../../payments/provider.ts";

const Url = Type.String({ minLength: 1, maxLength: 2000, format: "uri" });

export function providerOf(deps: RouteDeps): PaymentProvider {
  return deps.payments ?? fallbackManual;
}
const fallbackManual = new ManualProvider();

export function checkoutRoutes(r: Router, deps: RouteDeps): void {
  const provider = providerOf(deps);

  r.add(
    {
      method: "POST", url: "/v1/checkout/sessions", auth: "app", tag: "Checkout",
      summary: "Start a checkout for a plan or an add-on: creates a pending order and the provider's payment page",
      body: strictObject({ ...AccountRefFields, planId: Type.Optional(Id), addonId: Type.Optional(Id), successUrl: Url, cancelUrl: Url }),
      responses: { 201: Type.Object({ id: Type.String(), checkoutUrl: Type.String(), order: Order }) },
    },
    async ({ scope, body, request, idempotencyKey }) => {
      checkAccountRef(body);
      if ((body.planId === undefined) === (body.addonId === undefined)) throw validationError("/planId", "give exactly one of planId and addonId");
      const account = await scope.db.read((q) => requireAccount(q, scope.appId, body));
      const item = body.planId !== undefined ? { kind: "plan" as const, id: body.planId } : { kind: "addon" as const, id: body.addonId! };
      const out = await orders.startCheckout(scope, provider, {
        accountId: account.id, item, idempotencyKey: idempotencyKey === undefined ? undefined : `checkout:${idempotencyKey}`,
        successUrl: body.successUrl, cancelUrl: body.cancelUrl, baseUrl: baseUrlOf(request),
      });
      return {
        id: out.order.providerRef ?? `cs_${out.order.id.slice(4)}`,
        checkoutUrl: out.checkoutUrl ?? body.successUrl,
        order: p.order(out.order),
      };
    },
  );

  r.add(
    {
      method: "POST", url: "/v1/accounts/{accountId}/addons/purchase", auth: "app", tag: "Checkout",
      summary: "Buy an add-on: free ones are granted at once; paid ones answer a checkout URL",
      params: IdParams("accountId"),
      body: strictObject({ addonId: Id, currency: Type.Optional(Type.String({ pattern: "^[A-Za-z]{3}$" })), idempotencyKey: Type.Optional(IdempotencyKey), successUrl: Type.Optional(Url), cancelUrl: Type.Optional(Url) }),
      responses: { 200: Type.Object({ requiresPayment: Type.Boolean(), checkoutUrl: Type.Optional(Type.String()), order: Order, creditQty: Type.Integer(), grant: Type.Optional(Grant) }) },
    },
    async ({ scope, params, body, request, idempotencyKey }) => {
      const key = body.idempotencyKey ?? idempotencyKey;
      if (key === undefined) throw validationError("/idempotencyKey", "an idempotency key (body or Idempotency-Key header) is required: a purchase must never happen twice");
      await scope.db.read((q) => requireAccount(q, scope.appId, { accountId: params.accountId }));
      const addon = await catalog.getAddon(scope, body.addonId);
      if (body.currency !== undefined && body.currency.toLowerCase() !== addon.currency) {
        throw validationError("/currency", `add-on ${addon.id} is sold in ${addon.currency}`);
      }
      const base = baseUrlOf(request);
      const out = await orders.startCheckout(scope, provider, {
        accountId: params.accountId, item: { kind: "addon", id: addon.id }, idempotencyKey: `purchase:${key}`,
        successUrl: body.successUrl ?? `${base}/buy/complete`, cancelUrl: body.cancelUrl ?? `${base}/buy/canceled`, baseUrl: base,
      });
      return {
        requiresPayment: out.requiresPayment,
        ...(out.checkoutUrl !== null ? { checkoutUrl: out.checkoutUrl } : {}),
        order: p.order(out.order),
        creditQty: out.creditQty,
        ...(out.grant !== null ? { grant: present.grant(out.grant) } : {}),
      };
    },
  );

  r.add(
    {
      method: "GET", url: "/v1/accounts/{accountId}/addons/available", auth: "app", tag: "Checkout", summary: "Add-ons the account can buy",
      params: IdParams("accountId"), responses: { 200: Type.Object({ items: Type.Array(Addon) }) },
    },
    async ({ scope, params }) => {
      await scope.db.read((q) => requireAccount(q, scope.appId, { accountId: params.accountId }));
      return { items: (await catalog.listAddons(scope, {}, 100)).map(p.addon) };
    },
  );

  r.add(
    {
      method: "GET", url: "/v1/accounts/{accountId}/addons/active", auth: "app", tag: "Checkout", summary: "Credits left from bought add-ons, per pack",
      params: IdParams("accountId"),
      responses: { 200: Type.Object({ pools: Type.Array(Type.Object({ unit: Type.String(), remaining: Type.Integer(), addonId: Type.Union([Type.String(), Type.Null()]), expiresAt: Type.Union([Type.String(), Type.Null()]) })) }) },
    },
    async ({ scope, params }) => ({ pools: await orders.activeAddons(scope, params.accountId) }),
  );

  r.add(
    {
      method: "GET", url: "/v1/purchase-links", auth: "app", tag: "Checkout",
      summary: "Purchase options, each with a signed link (valid 7 days) to a hosted page that starts the checkout",
      query: strictObject({ ...AccountRefFields, productId: Type.Optional(Id) }),
      responses: {
        200: Type.Object({
          options: Type.Array(Type.Object({ kind: Type.Union([Type.Literal("addon"), Type.Literal("plan")]), id: Type.String(), name: Type.String(), creditQty: Type.Integer(), priceAmount: Type.Integer(), currency: Type.String(), url: Type.String() })),
        }),
      },
    },
    async ({ scope, query, request }) => {
      checkAccountRef(query);
      return { options: await orders.purchaseLinks(scope, query, query.productId, baseUrlOf(request)) };
    },
  );

  r.add(
    {
      method: "POST", url: "/v1/payments/stripe/webhook", auth: "public", tag: "Checkout", rawBody: true, idempotent: false,
      summary: "Stripe's webhook (checkout.session.completed fulfils the order; charge.refunded refunds it); verified with the stripe-signature header",
      responses: { 200: Type.Object({ received: Type.Boolean(), outcome: Type.String() }) },
    },
    async ({ request }) => {
      // Without Stripe configured there is no secret to verify a signature with: the event is
      // refused as any unverifiable one is (400), and nothing changes.
      if (provider.parseWebhook === undefined) {
        throw new TallyError("VALIDATION_ERROR", "Stripe is not the configured payment provider: no webhook secret to verify this event with", {
          issues: [{ path: "/stripe-signature", message: "cannot be verified: STRIPE_WEBHOOK_SECRET is not set" }],
        });
      }
      const header = request.headers["stripe-signature"];
      let event;
      try {
        event = provider.parseWebhook(request.rawBody ?? "", typeof header === "string" ? header : undefined);
      } catch (error) {
        request.log.warn({ err: error instanceof Error ? error.message : String(error) }, "stripe webhook rejected");
        throw new TallyError("VALIDATION_ERROR", "Invalid Stripe webhook signature", { issues: [{ path: "/stripe-signature", message: "signature verification failed" }] });
      }
      if (event.kind === "ignored") return { received: true, outcome: `ignored ${event.type}` };
      const scope = { db: deps.db, clock: deps.clock, appId: event.appId };
      try {
        if (event.kind === "paid") {
          const done = await orders.fulfilOrder(scope, event.orderId, { providerRef: event.providerRef, paymentRef: event.paymentRef });
          return { received: true, outcome: done.alreadyProcessed ? "already fulfilled" : "fulfilled" };
        }
        if (event.kind === "subscription") {
          const order = await orders.getOrder(scope, event.orderId);
          const sub = order.subscriptionId === null ? undefined : await applyProviderStatus(scope, order.subscriptionId, event.status);
          return { received: true, outcome: sub === undefined ? "no subscription" : `subscription ${sub.status}` };
        }
        const done = await orders.refundOrder(scope, null, event.orderId, { reason: "refunded in Stripe" });
        return { received: true, outcome: done.alreadyProcessed ? "already refunded" : "refunded" };
      } catch (error) {
        // An order this server does not know (another environment's) is acknowledged, or Stripe retries it for days.
        if (error instanceof TallyError && error.code === "ORDER_NOT_FOUND") return { received: true, outcome: "unknown order" };
        throw error;
      }
    },
  );
}

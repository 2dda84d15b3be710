import type { RequestOptions } from "../core/http.js";
import type { PagePromise } from "../core/pagination.js";
import { APIResource, toQuery } from "../core/resource.js";
import { seg } from "../core/util.js";
import type {
  ActiveAddons,
  Addon,
  AddonCreateParams,
  AddonListParams,
  AddonPurchaseParams,
  AddonPurchaseResult,
  CheckoutSession,
  CheckoutSessionParams,
  Invoice,
  InvoiceListParams,
  Order,
  OrderListParams,
  OrderMarkPaidParams,
  OrderMarkPaidResult,
  OrderRefundParams,
  OrderRefundResult,
  PurchaseLinks,
  PurchaseLinksParams,
} from "../types/commerce.js";
import type { AccountSelector, ItemList } from "../types/common.js";

/** Add-ons: credit packs bought on top of a plan. */
export class Addons extends APIResource {
  /**
   * Creates an add-on.
   *
   * @example
   * ```ts
   * const pack = await tally.addons.create({ name: "1,000 credits", unit: "credits", creditQty: 1000, priceAmount: 900, currency: "usd" });
   * ```
   */
  create(params: AddonCreateParams, options?: RequestOptions): Promise<Addon> {
    return this._http.request({ method: "POST", path: "/v1/addons", body: params, options });
  }

  /**
   * Gets an add-on.
   *
   * @example
   * ```ts
   * const addon = await tally.addons.get("addon_01J…");
   * ```
   */
  get(addonId: string, options?: RequestOptions): Promise<Addon> {
    return this._http.request({ method: "GET", path: `/v1/addons/${seg(addonId)}`, options });
  }

  /**
   * Lists add-ons.
   *
   * @example
   * ```ts
   * for await (const addon of tally.addons.list()) console.log(addon.name);
   * ```
   */
  list(params?: AddonListParams, options?: RequestOptions): PagePromise<Addon> {
    return this._list<Addon, AddonListParams>("/v1/addons", params, options);
  }

  /**
   * Add-ons this account can buy.
   *
   * @example
   * ```ts
   * const { items } = await tally.addons.listAvailable({ externalId: "workspace_abc123" });
   * for (const a of items) console.log(`${a.name}: ${a.creditQty} credits — ${a.currency} ${a.priceAmount}`);
   * ```
   */
  async listAvailable(account: AccountSelector, options?: RequestOptions): Promise<ItemList<Addon>> {
    const id = await this._accountId(account, options);
    return this._http.request({ method: "GET", path: `/v1/accounts/${seg(id)}/addons/available`, options });
  }

  /**
   * Buys an add-on. Never retried (a purchase may charge). `requiresPayment: true` → send the
   * user to `checkoutUrl`; otherwise the credits were granted already. The body's
   * `idempotencyKey` defaults to the call's `Idempotency-Key`.
   *
   * @example
   * ```ts
   * const purchase = await tally.addons.purchase({ externalId: "workspace_abc123" }, {
   *   addonId: "addon_01J…", idempotencyKey: crypto.randomUUID(), successUrl: "https://app.example/ok", cancelUrl: "https://app.example/cancel",
   * });
   * if (purchase.requiresPayment) redirect(purchase.checkoutUrl!);
   * ```
   */
  async purchase(account: AccountSelector, params: AddonPurchaseParams, options?: RequestOptions): Promise<AddonPurchaseResult> {
    const id = await this._accountId(account, options);
    const key = options?.idempotencyKey ?? params.idempotencyKey;
    return this._http.request({
      method: "POST",
      path: `/v1/accounts/${seg(id)}/addons/purchase`,
      options: key === undefined ? options : { ...options, idempotencyKey: key },
      retry: false,
      bodyFromKey: (headerKey) => ({ ...params, idempotencyKey: params.idempotencyKey ?? headerKey }),
    });
  }

  /**
   * Credits left from the account's add-ons.
   *
   * @example
   * ```ts
   * const { pools } = await tally.addons.listActive({ externalId: "workspace_abc123" });
   * ```
   */
  async listActive(account: AccountSelector, options?: RequestOptions): Promise<ActiveAddons> {
    const id = await this._accountId(account, options);
    return this._http.request({ method: "GET", path: `/v1/accounts/${seg(id)}/addons/active`, options });
  }
}

/** Checkout: hosted payment pages for plans and add-ons. */
export class Checkout extends APIResource {
  /**
   * Opens a checkout session for a plan or an add-on. Never retried (a checkout may charge).
   *
   * @example
   * ```ts
   * const session = await tally.checkout.createSession({ externalId: "workspace_abc123", planId: "plan_01J…",
   *   successUrl: "https://app.example/billing/success", cancelUrl: "https://app.example/billing/cancel" });
   * // redirect to session.checkoutUrl
   * ```
   */
  createSession(params: CheckoutSessionParams, options?: RequestOptions): Promise<CheckoutSession> {
    return this._http.request({ method: "POST", path: "/v1/checkout/sessions", body: params, options, retry: false });
  }
}

/** Orders: purchases of plans and add-ons. */
export class Orders extends APIResource {
  /**
   * Gets an order by our `ord_…` id or the payment provider's id.
   *
   * @example
   * ```ts
   * const { accountId, productId, status } = await tally.orders.get("ORDER_123");
   * ```
   */
  get(orderId: string, options?: RequestOptions): Promise<Order> {
    return this._http.request({ method: "GET", path: `/v1/orders/${seg(orderId)}`, options });
  }

  /**
   * Lists orders, newest first (one account's with `accountId` or `externalId`; by `status`).
   *
   * @example
   * ```ts
   * for await (const order of tally.orders.list({ externalId: "user_456", status: "pending" })) console.log(order.id, order.amount);
   * ```
   */
  list(params?: OrderListParams, options?: RequestOptions): PagePromise<Order> {
    return this._list<Order, OrderListParams>("/v1/orders", params, options);
  }

  /**
   * Refunds a paid order (through the payment provider); the credits it granted are clawed
   * back (up to what is left). Returns the order with `clawback` (the transactions) and
   * `alreadyProcessed` (it was refunded already).
   *
   * @example
   * ```ts
   * const refunded = await tally.orders.refund("ord_01J…", { reason: "requested_by_customer" });
   * console.log(refunded.status, refunded.clawback.map((t) => t.amount));
   * ```
   */
  refund(orderId: string, params: OrderRefundParams = {}, options?: RequestOptions): Promise<OrderRefundResult> {
    return this._http.request({ method: "POST", path: `/v1/orders/${seg(orderId)}/refund`, body: params, options });
  }

  /**
   * Marks a pending order (manual payment provider) as paid, which fulfils it once; a repeat
   * answers `alreadyProcessed: true` and grants nothing again.
   *
   * @example
   * ```ts
   * const { order, alreadyProcessed } = await tally.orders.markPaid("ord_01J…", { paymentRef: "bank-transfer-42" });
   * ```
   */
  markPaid(orderId: string, params: OrderMarkPaidParams = {}, options?: RequestOptions): Promise<OrderMarkPaidResult> {
    return this._http.request({ method: "POST", path: `/v1/orders/${seg(orderId)}/mark-paid`, body: params, options });
  }
}

/** Purchase links: ways for an account to buy more credits. */
export class PurchaseLinksResource extends APIResource {
  /**
   * Lists purchase options (add-ons and plans) with URLs.
   *
   * @example
   * ```ts
   * const { options } = await tally.purchaseLinks.list({ accountId: order.accountId, productId: order.productId ?? undefined });
   * ```
   */
  list(params: PurchaseLinksParams, options?: RequestOptions): Promise<PurchaseLinks> {
    return this._http.request({ method: "GET", path: "/v1/purchase-links", query: toQuery(params), options });
  }
}

/** Invoices of paid orders. */
export class Invoices extends APIResource {
  /**
   * Lists an account's invoices.
   *
   * @example
   * ```ts
   * for await (const invoice of tally.invoices.list({ externalId: "workspace_abc123" })) console.log(invoice.hostedUrl);
   * ```
   */
  list(account: AccountSelector, params?: InvoiceListParams, options?: RequestOptions): PagePromise<Invoice> {
    return this._accountList<Invoice, InvoiceListParams>(account, "invoices", params, options);
  }
}

import type { PageParams } from "../core/pagination.js";
import type { Grant } from "./accounts.js";
import type { AccountRef, OptionalAccountRef, Timestamp } from "./common.js";
import type { Transaction } from "./credits.js";

/** A credit pack that can be bought on top of a plan. */
export interface Addon {
  id: string;
  productId: string | null;
  name: string;
  unit: string;
  creditQty: number;
  priceAmount: number;
  currency: string;
  expiresInDays: number | null;
  createdAt: Timestamp;
}

/** Body of `POST /v1/addons`. */
export interface AddonCreateParams {
  productId?: string;
  name: string;
  unit: string;
  creditQty: number;
  /** 0 for a free add-on (granted at once). */
  priceAmount: number;
  currency: string;
  expiresInDays?: number;
}

/** Query of `GET /v1/addons`. */
export interface AddonListParams extends PageParams {
  productId?: string;
}

/** Body of `POST /v1/accounts/{accountId}/addons/purchase`. */
export interface AddonPurchaseParams {
  addonId: string;
  currency?: string;
  /** Defaults to the call's generated `Idempotency-Key`. */
  idempotencyKey?: string;
  successUrl?: string;
  cancelUrl?: string;
}

/** Order lifecycle. */
export type OrderStatus = "pending" | "paid" | "canceled" | "refunded";

/** A purchase of a plan or add-on. */
export interface Order {
  id: string;
  accountId: string;
  productId: string | null;
  planId: string | null;
  addonId: string | null;
  status: OrderStatus;
  amount: number;
  currency: string;
  /** The payment provider's id (e.g. a Stripe Checkout Session id). */
  providerRef: string | null;
  /** The payment provider that handles it, e.g. `manual` or `stripe`. */
  provider: string;
  /** Where the buyer pays; `null` when no payment page was needed (a free add-on). */
  checkoutUrl: string | null;
  /** The subscription a plan order started, once there is one. */
  subscriptionId: string | null;
  createdAt: Timestamp;
  paidAt: Timestamp | null;
  refundedAt: Timestamp | null;
}

/** Result of an add-on purchase. */
export interface AddonPurchaseResult {
  /** `true`: send the user to `checkoutUrl`. `false`: credits were granted already. */
  requiresPayment: boolean;
  checkoutUrl?: string;
  order: Order;
  creditQty: number;
  grant?: Grant;
}

/** Credits left from one add-on. */
export interface AddonPool {
  unit: string;
  remaining: number;
  /** `null` for credits whose lot does not name its add-on. */
  addonId: string | null;
  expiresAt: Timestamp | null;
}

/** Result of `GET /v1/accounts/{accountId}/addons/active`. */
export interface ActiveAddons {
  pools: AddonPool[];
}

/** Body of `POST /v1/checkout/sessions`: a plan or an add-on. */
export type CheckoutSessionParams = AccountRef &
  ({ planId: string; addonId?: never } | { addonId: string; planId?: never }) & {
    successUrl: string;
    cancelUrl: string;
  };

/** A checkout session: send the user to `checkoutUrl`. */
export interface CheckoutSession {
  id: string;
  checkoutUrl: string;
  order: Order;
}

/** Query of `GET /v1/orders` (newest first). */
export type OrderListParams = OptionalAccountRef &
  PageParams & {
    status?: OrderStatus;
  };

/** Body of `POST /v1/orders/{orderId}/refund`. */
export interface OrderRefundParams {
  reason?: string;
}

/** Result of `POST /v1/orders/{orderId}/refund`: the order, now refunded, and the credits taken back. */
export type OrderRefundResult = Order & {
  /** The clawback transactions (empty on a replay, or when nothing was left to take back). */
  clawback: Transaction[];
  /** `true` when the order had been refunded already (nothing changed). */
  alreadyProcessed: boolean;
};

/** Body of `POST /v1/orders/{orderId}/mark-paid` (manual payments). */
export interface OrderMarkPaidParams {
  /** The payment provider's reference for the order. */
  providerRef?: string;
  /** Your reference for the payment (e.g. a bank transfer id). */
  paymentRef?: string;
}

/** Result of `POST /v1/orders/{orderId}/mark-paid`. */
export interface OrderMarkPaidResult {
  order: Order;
  /** `true` when the order was paid already (nothing was granted again). */
  alreadyProcessed: boolean;
}

/** Query of `GET /v1/purchase-links`. */
export type PurchaseLinksParams = AccountRef & {
  productId?: string;
};

/** One way to buy more credits. */
export interface PurchaseLinkOption {
  kind: "addon" | "plan";
  id: string;
  name: string;
  creditQty: number;
  priceAmount: number;
  currency: string;
  url: string;
}

/** Result of `GET /v1/purchase-links`. */
export interface PurchaseLinks {
  options: PurchaseLinkOption[];
}

/** One line of an invoice. */
export interface InvoiceLine {
  description: string;
  /** Unit amount, in the currency's minor unit; the line's total is `amount × quantity`. */
  amount: number;
  quantity: number;
}

/** State of an invoice. */
export type InvoiceStatus = "paid" | "open" | "void";

/** An invoice: one per paid order and one per subscription period. */
export interface Invoice {
  id: string;
  /** The paid order it is for; `null` for a subscription period's invoice. */
  orderId: string | null;
  /** The subscription whose period it bills, if any. */
  subscriptionId: string | null;
  accountId: string;
  amount: number;
  currency: string;
  status: InvoiceStatus;
  lines: InvoiceLine[];
  /** A signed link to the hosted invoice page. */
  hostedUrl: string;
  createdAt: Timestamp;
}

/** Query of the invoices list. */
export interface InvoiceListParams extends PageParams {}

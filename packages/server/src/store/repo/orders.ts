import type { Sql, SqlValue } from "../sql.ts";
import { parseJson } from "./json.ts";

export type OrderStatus = "pending" | "paid" | "canceled" | "refunded";
export type OrderKind = "addon" | "plan" | "auto_topup";

export interface OrderRecord {
  id: string;
  accountId: string;
  kind: OrderKind;
  productId: string | null;
  planId: string | null;
  addonId: string | null;
  status: OrderStatus;
  amount: number;
  currency: string;
  unit: string | null;
  creditQty: number | null;
  provider: string;
  /** The provider's id for the order (a Stripe Checkout Session id). */
  providerRef: string | null;
  /** The provider's id for the payment itself (a Stripe PaymentIntent id). */
  paymentRef: string | null;
  checkoutUrl: string | null;
  idempotencyKey: string | null;
  grantId: string | null;
  subscriptionId: string | null;
  clawbackTxnId: string | null;
  createdAtMs: number;
  paidAtMs: number | null;
  refundedAtMs: number | null;
}

interface Row {
  order_id: string; account_id: string; kind: string; product_id: string | null; plan_id: string | null; addon_id: string | null; status: string;
  amount: number; currency: string; unit: string | null; credit_qty: number | null; provider: string; provider_ref: string | null; payment_ref: string | null;
  checkout_url: string | null; idempotency_key: string | null; grant_id: string | null; subscription_id: string | null; clawback_txn_id: string | null;
  created_at: number; paid_at: number | null; refunded_at: number | null;
}
const n = (v: number | null): number | null => (v === null ? null : Number(v));
const toOrder = (r: Row): OrderRecord => ({
  id: r.order_id, accountId: r.account_id, kind: r.kind as OrderKind, productId: r.product_id, planId: r.plan_id, addonId: r.addon_id,
  status: r.status as OrderStatus, amount: Number(r.amount), currency: r.currency, unit: r.unit, creditQty: n(r.credit_qty), provider: r.provider,
  providerRef: r.provider_ref, paymentRef: r.payment_ref, checkoutUrl: r.checkout_url, idempotencyKey: r.idempotency_key, grantId: r.grant_id,
  subscriptionId: r.subscription_id, clawbackTxnId: r.clawback_txn_id, createdAtMs: Number(r.created_at), paidAtMs: n(r.paid_at), refundedAtMs: n(r.refunded_at),
});

export async function insertOrder(tx: Sql, appId: string, o: OrderRecord): Promise<void> {
  await tx.run(
    `INSERT INTO orders (app_id, order_id, account_id, kind, product_id, plan_id, addon_id, status, amount, currency, unit, credit_qty, provider, provider_ref,
      payment_ref, checkout_url, idempotency_key, grant_id, subscription_id, clawback_txn_id, created_at, paid_at, refunded_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [appId, o.id, o.accountId, o.kind, o.productId, o.planId, o.addonId, o.status, o.amount, o.currency, o.unit, o.creditQty, o.provider, o.providerRef,
      o.paymentRef, o.checkoutUrl, o.idempotencyKey, o.grantId, o.subscriptionId, o.clawbackTxnId, o.createdAtMs, o.paidAtMs, o.refundedAtMs],
  );
}

export async function getOrder(q: Sql, appId: string, id: string, forUpdate = false): Promise<OrderRecord | undefined> {
  const r = await q.get<Row>(`SELECT * FROM orders WHERE app_id = ? AND order_id = ?${forUpdate ? q.dialect.forUpdate : ""}`, [appId, id]);
  return r === undefined ? undefined : toOrder(r);
}
export async function getOrderByProviderRef(q: Sql, appId: string, ref: string): Promise<OrderRecord | undefined> {
  const r = await q.get<Row>("SELECT * FROM orders WHERE app_id = ? AND provider_ref = ?", [appId, ref]);
  return r === undefined ? undefined : toOrder(r);
}
export interface OrderFilter {
  accountId?: string | undefined;
  status?: OrderStatus | undefined;
  beforeId?: string | undefined;
  limit: number;
}
/** Newest first; an account's through its index. */
export async function listOrders(q: Sql, appId: string, f: OrderFilter): Promise<OrderRecord[]> {
  const where = ["app_id = ?"];
  const params: SqlValue[] = [appId];
  if (f.accountId !== undefined) {
    where.push("account_id = ?");
    params.push(f.accountId);
  }
  if (f.status !== undefined) {
    where.push("status = ?");
    params.push(f.status);
  }
  if (f.beforeId !== undefined) {
    where.push("order_id < ?");
    params.push(f.beforeId);
  }
  params.push(f.limit);
  return (await q.all<Row>(`SELECT * FROM orders WHERE ${where.join(" AND ")} ORDER BY order_id DESC LIMIT ?`, params)).map(toOrder);
}
export async function getOrderByKey(q: Sql, appId: string, key: string): Promise<OrderRecord | undefined> {
  const r = await q.get<Row>("SELECT * FROM orders WHERE app_id = ? AND idempotency_key = ?", [appId, key]);
  return r === undefined ? undefined : toOrder(r);
}
export async function setCheckout(tx: Sql, appId: string, id: string, providerRef: string | null, checkoutUrl: string): Promise<void> {
  await tx.run("UPDATE orders SET provider_ref = ?, checkout_url = ? WHERE app_id = ? AND order_id = ?", [providerRef, checkoutUrl, appId, id]);
}

/** pending → paid, once: false when the order was not pending (already fulfilled, canceled or refunded). */
/** pending → paid, once; records the payment's reference, and the provider's id for the order if it had none. */
export async function markPaidIfPending(tx: Sql, appId: string, id: string, nowMs: number, refs: { paymentRef: string | null; providerRef: string | null }): Promise<boolean> {
  const { changes } = await tx.run(
    "UPDATE orders SET status = 'paid', paid_at = ?, payment_ref = COALESCE(?, payment_ref), provider_ref = COALESCE(provider_ref, ?) WHERE app_id = ? AND order_id = ? AND status = 'pending'",
    [nowMs, refs.paymentRef, refs.providerRef, appId, id],
  );
  return changes === 1;
}
export async function setFulfilment(tx: Sql, appId: string, id: string, grantId: string | null, subscriptionId: string | null): Promise<void> {
  await tx.run("UPDATE orders SET grant_id = ?, subscription_id = ? WHERE app_id = ? AND order_id = ?", [grantId, subscriptionId, appId, id]);
}
/** paid → refunded, once. */
export async function markRefundedIfPaid(tx: Sql, appId: string, id: string, nowMs: number): Promise<boolean> {
  const { changes } = await tx.run("UPDATE orders SET status = 'refunded', refunded_at = ? WHERE app_id = ? AND order_id = ? AND status = 'paid'", [nowMs, appId, id]);
  return changes === 1;
}
export async function setClawback(tx: Sql, appId: string, id: string, txnId: string | null): Promise<void> {
  await tx.run("UPDATE orders SET clawback_txn_id = ? WHERE app_id = ? AND order_id = ?", [txnId, appId, id]);
}
export async function cancelIfPending(tx: Sql, appId: string, id: string): Promise<boolean> {
  const { changes } = await tx.run("UPDATE orders SET status = 'canceled' WHERE app_id = ? AND order_id = ? AND status = 'pending'", [appId, id]);
  return changes === 1;
}
/** Pending auto top-up orders of free add-ons, fulfilled by the scheduler (every application). */
export async function listPendingFreeOrders(q: Sql, limit: number): Promise<Array<{ appId: string; id: string }>> {
  const rows = await q.all<{ app_id: string; order_id: string }>(
    "SELECT app_id, order_id FROM orders WHERE status = 'pending' AND amount = 0 AND kind = 'auto_topup' ORDER BY created_at LIMIT ?",
    [limit],
  );
  return rows.map((r) => ({ appId: r.app_id, id: r.order_id }));
}

export interface InvoiceLine {
  description: string;
  amount: number;
  quantity: number;
}
export interface InvoiceRecord {
  id: string;
  key: string;
  accountId: string;
  orderId: string | null;
  subscriptionId: string | null;
  amount: number;
  currency: string;
  status: "paid" | "open" | "void";
  lines: InvoiceLine[];
  createdAtMs: number;
}
interface InvoiceRow {
  invoice_id: string; invoice_key: string; account_id: string; order_id: string | null; subscription_id: string | null; amount: number; currency: string;
  status: string; lines: string; created_at: number;
}
const toInvoice = (r: InvoiceRow): InvoiceRecord => ({
  id: r.invoice_id, key: r.invoice_key, accountId: r.account_id, orderId: r.order_id, subscriptionId: r.subscription_id, amount: Number(r.amount),
  currency: r.currency, status: r.status as InvoiceRecord["status"], lines: parseJson<InvoiceLine[]>(r.lines, []), createdAtMs: Number(r.created_at),
});

/** Inserts an invoice unless one with the same key exists (one per order, one per subscription period). */
export async function insertInvoice(tx: Sql, appId: string, i: InvoiceRecord): Promise<void> {
  await tx.run(
    `INSERT INTO invoices (app_id, invoice_id, invoice_key, account_id, order_id, subscription_id, amount, currency, status, lines, created_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    [appId, i.id, i.key, i.accountId, i.orderId, i.subscriptionId, i.amount, i.currency, i.status, JSON.stringify(i.lines), i.createdAtMs],
  );
}
export async function setInvoiceStatusByOrder(tx: Sql, appId: string, orderId: string, status: InvoiceRecord["status"]): Promise<void> {
  await tx.run("UPDATE invoices SET status = ? WHERE app_id = ? AND order_id = ?", [status, appId, orderId]);
}
export async function getInvoice(q: Sql, appId: string, id: string): Promise<InvoiceRecord | undefined> {
  const r = await q.get<InvoiceRow>("SELECT * FROM invoices WHERE app_id = ? AND invoice_id = ?", [appId, id]);
  return r === undefined ? undefined : toInvoice(r);
}
export async function listInvoices(q: Sql, appId: string, accountId: string, after: string | undefined, limit: number): Promise<InvoiceRecord[]> {
  const params: SqlValue[] = [appId, accountId, after ?? "", limit];
  return (await q.all<InvoiceRow>("SELECT * FROM invoices WHERE app_id = ? AND account_id = ? AND invoice_id > ? ORDER BY invoice_id LIMIT ?", params)).map(toInvoice);
}

import { Type } from "typebox";
import type { Router } from "../router.ts";
import type { RouteDeps } from "./deps.ts";
import { AccountRefFields, Description, IdParams, Page, PageQuery, ShortString, strictObject } from "../schemas/common.ts";
import { Invoice, Order, OrderStatus } from "../schemas/commerce.ts";
import { Transaction } from "../schemas/models.ts";
import { baseUrlOf, pageOf, presentCommerce as p } from "../present-commerce.ts";
import { filterAccountId } from "../../domain/accounts.ts";
import { LIMITS } from "../../domain/limits.ts";
import type { OrderRecord } from "../../store/repo/orders.ts";
import { present } from "../present.ts";
import * as orders from "../../domain/orders.ts";
import { providerOf } from "./checkout.ts";

export function orderRoutes(r: Router, deps: RouteDeps): void {
  const provider = providerOf(deps);

  r.add(
    {
      method: "GET", url: "/v1/orders", auth: "app", tag: "Orders", summary: "List orders, newest first (of one account when named)",
      query: strictObject({ ...PageQuery, ...AccountRefFields, status: Type.Optional(OrderStatus) }),
      responses: { 200: Page(Order) },
    },
    async ({ scope, query }) => {
      const limit = query.limit ?? LIMITS.pageLimitDefault;
      const accountId = await filterAccountId(scope, query);
      const rows = await orders.listOrders(scope, { accountId, status: query.status as OrderRecord["status"] | undefined, beforeId: query.cursor, limit: limit + 1 });
      return pageOf(rows, limit, p.order);
    },
  );

  r.add(
    {
      method: "GET", url: "/v1/orders/{orderId}", auth: "app", tag: "Orders", summary: "Get an order by our id (ord_…) or the payment provider's id",
      params: strictObject({ orderId: Type.String({ minLength: 1, maxLength: 255 }) }), responses: { 200: Order },
    },
    async ({ scope, params }) => p.order(await orders.getOrder(scope, params.orderId)),
  );

  r.add(
    {
      method: "POST", url: "/v1/orders/{orderId}/mark-paid", auth: "app", scope: "admin", tag: "Orders",
      summary: "Mark a pending order paid (manual payments) and fulfil it, exactly once",
      params: IdParams("orderId"),
      // Where the money came from, for the books: the payment's reference (a bank transfer, a
      // receipt) and, when another system took it, that system's id for the order.
      body: strictObject({ providerRef: Type.Optional(ShortString), paymentRef: Type.Optional(ShortString) }),
      responses: { 200: Type.Object({ order: Order, alreadyProcessed: Type.Boolean() }) },
    },
    async ({ scope, params, body }) => {
      const out = await orders.markPaid(scope, params.orderId, body);
      return { order: p.order(out.order), alreadyProcessed: out.alreadyProcessed };
    },
  );

  r.add(
    {
      method: "POST", url: "/v1/orders/{orderId}/refund", auth: "app", scope: "admin", tag: "Orders",
      summary: "Refund a paid order (through the provider) and claw back the credits it granted, up to what is left",
      params: strictObject({ orderId: Type.String({ minLength: 1, maxLength: 255 }) }),
      body: strictObject({ reason: Type.Optional(Description) }),
      responses: { 200: Type.Intersect([Order, Type.Object({ clawback: Type.Array(Transaction), alreadyProcessed: Type.Boolean() })]) },
    },
    async ({ scope, params, body }) => {
      const out = await orders.refundOrder(scope, provider, params.orderId, body);
      return { ...p.order(out.order), clawback: out.clawback.map(present.transaction), alreadyProcessed: out.alreadyProcessed };
    },
  );

  r.add(
    {
      method: "GET", url: "/v1/accounts/{accountId}/invoices", auth: "app", tag: "Orders", summary: "Invoices: one per paid order and one per subscription period",
      params: IdParams("accountId"), query: strictObject(PageQuery), responses: { 200: Page(Invoice) },
    },
    async ({ scope, params, query, request }) => {
      const limit = query.limit ?? 20;
      const rows = await orders.listInvoices(scope, params.accountId, query.cursor, limit + 1);
      const hasMore = rows.length > limit;
      const items = hasMore ? rows.slice(0, limit) : rows;
      const base = baseUrlOf(request);
      const shown = [];
      for (const i of items) shown.push(p.invoice(i, await orders.invoiceUrl(scope, i, base)));
      return { items: shown, nextCursor: hasMore ? items[items.length - 1]!.id : null, hasMore };
    },
  );
}

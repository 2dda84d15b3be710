import { Type } from "typebox";
import type { Router } from "../router.ts";
import type { RouteDeps } from "./deps.ts";
import { IdParams, NonNegativeAmount, Page, PageQuery, strictObject } from "../schemas/common.ts";
import { WebhookDelivery, WebhookEndpoint } from "../schemas/commerce.ts";
import { pageOf, presentCommerce as p } from "../present-commerce.ts";
import { LIMITS } from "../../domain/limits.ts";
import * as webhooks from "../../domain/webhooks.ts";

export function webhookRoutes(r: Router, _deps: RouteDeps): void {
  r.add(
    {
      method: "POST", url: "/v1/webhook-endpoints", auth: "app", scope: "admin", tag: "Webhooks",
      summary: "Register an endpoint for outgoing events (the secret that signs them is shown only here)",
      body: strictObject({
        url: Type.String({ minLength: 1, maxLength: 2000 }),
        events: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { minItems: 1, maxItems: 20 }),
        secret: Type.Optional(Type.String({ minLength: 1, maxLength: 255 })),
        balanceLowThreshold: Type.Optional(NonNegativeAmount),
      }),
      responses: { 201: WebhookEndpoint },
    },
    async ({ scope, body }) => p.endpoint(await webhooks.createEndpoint(scope, body), true),
  );
  r.add(
    {
      method: "GET", url: "/v1/webhook-endpoints", auth: "app", tag: "Webhooks", summary: "List endpoints, oldest first (never their secrets)",
      query: strictObject(PageQuery), responses: { 200: Page(WebhookEndpoint) },
    },
    async ({ scope, query }) => {
      const limit = query.limit ?? LIMITS.pageLimitDefault;
      return pageOf(await webhooks.listEndpoints(scope, { afterId: query.cursor, limit: limit + 1 }), limit, (e) => p.endpoint(e));
    },
  );
  r.add(
    {
      method: "GET", url: "/v1/webhook-endpoints/{endpointId}", auth: "app", tag: "Webhooks", summary: "One endpoint (never its secret)",
      params: IdParams("endpointId"), responses: { 200: WebhookEndpoint },
    },
    async ({ scope, params }) => p.endpoint(await webhooks.getEndpoint(scope, params.endpointId)),
  );
  r.add(
    {
      method: "DELETE", url: "/v1/webhook-endpoints/{endpointId}", auth: "app", scope: "admin", tag: "Webhooks", summary: "Delete an endpoint (pending deliveries to it stop)",
      params: IdParams("endpointId"), responses: { 200: Type.Object({ id: Type.String(), deleted: Type.Boolean() }) },
    },
    async ({ scope, params }) => {
      await webhooks.deleteEndpoint(scope, params.endpointId);
      return { id: params.endpointId, deleted: true };
    },
  );
  r.add(
    {
      method: "GET", url: "/v1/webhook-endpoints/{endpointId}/deliveries", auth: "app", tag: "Webhooks", summary: "Deliveries to an endpoint, each with its attempts",
      params: IdParams("endpointId"), query: strictObject(PageQuery), responses: { 200: Page(WebhookDelivery) },
    },
    async ({ scope, params, query }) => {
      const limit = query.limit ?? 20;
      return pageOf(await webhooks.listDeliveries(scope, params.endpointId, query.cursor, limit + 1), limit, p.delivery);
    },
  );
}

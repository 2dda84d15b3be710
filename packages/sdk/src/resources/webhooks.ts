import type { RequestOptions } from "../core/http.js";
import type { PagePromise } from "../core/pagination.js";
import { APIResource } from "../core/resource.js";
import { seg } from "../core/util.js";
import type {
  WebhookDelivery,
  WebhookDeliveryListParams,
  WebhookEndpoint,
  WebhookEndpointCreateParams,
  WebhookEndpointDeleteResult,
  WebhookEndpointListParams,
} from "../types/webhooks.js";

/** Webhook endpoints: where Tally posts signed events. */
export class WebhookEndpoints extends APIResource {
  /**
   * Registers an endpoint. The signing `secret` is returned only here.
   *
   * @example
   * ```ts
   * const endpoint = await tally.webhookEndpoints.create({ url: "https://app.example/hooks/tally", events: ["credits.granted", "balance.low"] });
   * ```
   */
  create(params: WebhookEndpointCreateParams, options?: RequestOptions): Promise<WebhookEndpoint> {
    return this._http.request({ method: "POST", path: "/v1/webhook-endpoints", body: params, options });
  }

  /**
   * Lists endpoints.
   *
   * @example
   * ```ts
   * for await (const e of tally.webhookEndpoints.list()) console.log(e.url, e.events);
   * ```
   */
  list(params?: WebhookEndpointListParams, options?: RequestOptions): PagePromise<WebhookEndpoint> {
    return this._list<WebhookEndpoint, WebhookEndpointListParams>("/v1/webhook-endpoints", params, options);
  }

  /**
   * One endpoint (without its secret).
   *
   * @example
   * ```ts
   * const endpoint = await tally.webhookEndpoints.get("we_01J…");
   * ```
   */
  get(endpointId: string, options?: RequestOptions): Promise<WebhookEndpoint> {
    return this._http.request({ method: "GET", path: `/v1/webhook-endpoints/${seg(endpointId)}`, options });
  }

  /**
   * Deletes an endpoint (its pending deliveries stop): `{ id, deleted: true }`.
   *
   * @example
   * ```ts
   * const { deleted } = await tally.webhookEndpoints.delete("we_01J…");
   * ```
   */
  delete(endpointId: string, options?: RequestOptions): Promise<WebhookEndpointDeleteResult> {
    return this._http.request({ method: "DELETE", path: `/v1/webhook-endpoints/${seg(endpointId)}`, options });
  }

  /**
   * Lists deliveries to an endpoint, newest first, each with its attempts.
   *
   * @example
   * ```ts
   * for await (const d of tally.webhookEndpoints.deliveries("we_01J…")) console.log(d.type, d.status, d.attempts, d.lastStatusCode);
   * ```
   */
  deliveries(endpointId: string, params?: WebhookDeliveryListParams, options?: RequestOptions): PagePromise<WebhookDelivery> {
    return this._list<WebhookDelivery, WebhookDeliveryListParams>(`/v1/webhook-endpoints/${seg(endpointId)}/deliveries`, params, options);
  }
}

import type { RequestOptions } from "../core/http.js";
import type { PagePromise } from "../core/pagination.js";
import { APIResource, toQuery } from "../core/resource.js";
import type { UsageListParams, UsageRecord, UsageRecordParams, UsageRecordResult, UsageSummary, UsageSummaryParams } from "../types/usage.js";

/** Usage: metered model calls (tokens, quantities), optionally charged. */
export class Usage extends APIResource {
  /**
   * Records a usage event. With `charge: true` the model's price is deducted in the same
   * database transaction (402 if short, and then nothing is recorded).
   *
   * @example
   * ```ts
   * await tally.usage.record({ externalId: "user_456", context: "customer", transactionId: confirmed.transaction.id,
   *   modelId: "gpt-4o", usageType: "text", inputTokens: 1000, outputTokens: 420 });
   * ```
   */
  record(params: UsageRecordParams, options?: RequestOptions): Promise<UsageRecordResult> {
    return this._http.request({ method: "POST", path: "/v1/usage", body: params, options });
  }

  /**
   * Lists usage records, newest first.
   *
   * @example
   * ```ts
   * for await (const u of tally.usage.list({ externalId: "user_456", context: "customer" })) console.log(u.modelId, u.outputTokens);
   * ```
   */
  list(params?: UsageListParams, options?: RequestOptions): PagePromise<UsageRecord> {
    return this._list<UsageRecord, UsageListParams>("/v1/usage", params, options);
  }

  /**
   * Sums usage grouped by model, day, usage type or account.
   *
   * @example
   * ```ts
   * const { rows } = await tally.usage.summary({ context: "customer", groupBy: "model" });
   * ```
   */
  summary(params: UsageSummaryParams = {}, options?: RequestOptions): Promise<UsageSummary> {
    return this._http.request({ method: "GET", path: "/v1/usage/summary", query: toQuery(params), options });
  }
}

import type { RequestOptions } from "../core/http.js";
import { APIResource } from "../core/resource.js";
import type { DeductParams, DeductResult, DryRunResult, GrantParams, GrantResult, RefundParams, RefundResult } from "../types/credits.js";

/** Credits: grant lots, deduct (burning lots in order), refund. */
export class Credits extends APIResource {
  /**
   * Grants credits as a new lot. An unknown `externalId` creates the account.
   *
   * @example
   * ```ts
   * const { balance } = await tally.credits.grant({ externalId: "user_456", amount: 1000, source: "purchase", reference: "order_123", idempotencyKey: "grant-order_123" });
   * ```
   */
  grant(params: GrantParams, options?: RequestOptions): Promise<GrantResult> {
    return this._http.request({ method: "POST", path: "/v1/credits/grant", body: params, options });
  }

  /**
   * Deducts credits, burning lots by priority, then earliest expiry, then age. Throws
   * `InsufficientCreditsError` (402) when short. Without `idempotencyKey`/`usageEventId` the SDK
   * sends the call's `Idempotency-Key` as `idempotencyKey`, so a retried deduct is never doubled.
   * With `dryRun: true` it returns `{ wouldSucceed, allocations, balance }` and changes nothing.
   *
   * @example
   * ```ts
   * const { transaction, balance, alreadyProcessed } = await tally.credits.deduct({
   *   externalId: "user_456", amount: 5, operation: "app.chat.reply", idempotencyKey: "turn-001",
   * });
   * ```
   */
  deduct(params: DeductParams & { dryRun: true }, options?: RequestOptions): Promise<DryRunResult>;
  deduct(params: DeductParams & { dryRun?: false }, options?: RequestOptions): Promise<DeductResult>;
  deduct(params: DeductParams, options?: RequestOptions): Promise<DeductResult | DryRunResult>;
  deduct(params: DeductParams, options?: RequestOptions): Promise<DeductResult | DryRunResult> {
    const needsKey = params.idempotencyKey === undefined && params.usageEventId === undefined && params.dryRun !== true;
    return this._http.request({
      method: "POST",
      path: "/v1/credits/deduct",
      body: params,
      options,
      ...(needsKey ? { bodyFromKey: (key: string) => ({ ...params, idempotencyKey: key }) } : {}),
    });
  }

  /**
   * Refunds a deduct (all of what is left, or `amount`) to the lots that paid for it.
   *
   * @example
   * ```ts
   * await tally.credits.refund({ transactionId: deducted.transaction.id, amount: 2, reason: "bad answer" });
   * ```
   */
  refund(params: RefundParams, options?: RequestOptions): Promise<RefundResult> {
    return this._http.request({ method: "POST", path: "/v1/credits/refund", body: params, options });
  }
}

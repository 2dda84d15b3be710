import type { RequestOptions } from "../core/http.js";
import type { PagePromise } from "../core/pagination.js";
import { APIResource } from "../core/resource.js";
import { seg } from "../core/util.js";
import type { Transaction, TransactionCreateParams, TransactionCreateResult, TransactionListParams } from "../types/credits.js";

/** Transactions: the immutable ledger. */
export class Transactions extends APIResource {
  /**
   * Records a manual adjustment: `credit` adds, `debit` removes (never overdrawing).
   *
   * @example
   * ```ts
   * await tally.transactions.create({ externalId: "user_456", type: "credit", amount: 100, description: "Refund" });
   * ```
   */
  create(params: TransactionCreateParams, options?: RequestOptions): Promise<TransactionCreateResult> {
    return this._http.request({ method: "POST", path: "/v1/transactions", body: params, options });
  }

  /**
   * Lists transactions, newest first; filter by account, unit, type and time. Pass `offset` for
   * offset pagination (the page then has `pagination: { limit, offset, total }`).
   *
   * @example
   * ```ts
   * for await (const t of tally.transactions.list({ externalId: "user_456" })) console.log(t.type, t.amount);
   * const { items, pagination } = await tally.transactions.list({ accountId: "acct_01J…", limit: 20, offset: 0 });
   * ```
   */
  list(params?: TransactionListParams, options?: RequestOptions): PagePromise<Transaction> {
    return this._list<Transaction, TransactionListParams>("/v1/transactions", params, options);
  }

  /**
   * Gets one transaction.
   *
   * @example
   * ```ts
   * const t = await tally.transactions.get("txn_01J…");
   * console.log(t.allocations);
   * ```
   */
  get(transactionId: string, options?: RequestOptions): Promise<Transaction> {
    return this._http.request({ method: "GET", path: `/v1/transactions/${seg(transactionId)}`, options });
  }
}

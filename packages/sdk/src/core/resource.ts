/** Base of every resource class, and helpers resources share. */
import type { HttpClient, RequestOptions } from "./http.js";
import { PagePromise, type PageData, type PageParams } from "./pagination.js";
import { seg, type QueryValue } from "./util.js";
import type { Account } from "../types/accounts.js";
import type { AccountSelector } from "../types/common.js";

/** A group of methods over one part of the API (`tally.accounts`, `tally.credits`, …). */
export abstract class APIResource {
  /** @internal */
  protected readonly _http: HttpClient;

  constructor(http: HttpClient) {
    this._http = http;
  }

  /** @internal A list call as a {@link PagePromise}. */
  protected _list<T, P extends PageParams & { offset?: number }>(path: string, params: P | undefined, options: RequestOptions | undefined): PagePromise<T> {
    return new PagePromise<T>(params ?? {}, (p) => this._http.request<PageData<T>>({ method: "GET", path, query: toQuery(p), options }));
  }

  /**
   * @internal A list under `/v1/accounts/{accountId}/{sub}`; an externalId is resolved once,
   * on the first page.
   */
  protected _accountList<T, P extends PageParams & { offset?: number }>(account: AccountSelector, sub: string, params: P | undefined, options: RequestOptions | undefined): PagePromise<T> {
    let id: Promise<string> | undefined;
    return new PagePromise<T>(params ?? {}, async (p) => {
      id ??= this._accountId(account, options);
      return this._http.request<PageData<T>>({ method: "GET", path: `/v1/accounts/${seg(await id)}/${sub}`, query: toQuery(p), options });
    });
  }

  /**
   * @internal The `acct_…` id of an account named by id or `{ accountId }` / `{ externalId }`;
   * an externalId costs one `GET /v1/accounts/by-external-id/{externalId}`.
   */
  protected async _accountId(account: AccountSelector, options: RequestOptions | undefined): Promise<string> {
    if (typeof account === "string") return account;
    if (account.accountId !== undefined) return account.accountId;
    if (account.externalId !== undefined) {
      const found = await this._http.request<Account>({ method: "GET", path: `/v1/accounts/by-external-id/${seg(account.externalId)}`, options: readOptions(options) });
      return found.id;
    }
    throw new TypeError("Name the account by accountId or externalId");
  }
}

/** Per-call options without the idempotency key (for the reads a write does first). */
function readOptions(options: RequestOptions | undefined): RequestOptions | undefined {
  if (options === undefined) return undefined;
  const { idempotencyKey: _ignored, ...rest } = options;
  return rest;
}

/** Params object → query values (objects are not expected in queries). */
export function toQuery(params: object | undefined): Record<string, QueryValue> | undefined {
  if (params === undefined) return undefined;
  const out: Record<string, QueryValue> = {};
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    if (typeof value === "string" || typeof value === "number" || typeof value === "boolean") out[key] = value;
    else throw new TypeError(`Query parameter ${key} must be a string, number or boolean`);
  }
  return out;
}

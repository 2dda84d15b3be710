import type { RequestOptions } from "../core/http.js";
import type { PagePromise } from "../core/pagination.js";
import { APIResource } from "../core/resource.js";
import { seg } from "../core/util.js";
import type {
  Account,
  AccountCreateParams,
  AccountListParams,
  AccountUpdateParams,
  AccountUpsertParams,
  AutoTopup,
  AutoTopupParams,
  Balance,
  BalanceList,
  BalanceParams,
  Grant,
  GrantListParams,
  SpendLimit,
  SpendLimitParams,
} from "../types/accounts.js";
import type { AccountSelector } from "../types/common.js";

/** Accounts: the holders of credits (users, customers, tenants, workspaces). */
export class Accounts extends APIResource {
  /**
   * Creates an account. 409 `ACCOUNT_EXISTS` (a `ConflictError`) when `externalId` is taken;
   * use {@link Accounts.upsertByExternalId} for create-or-update.
   *
   * @example
   * ```ts
   * const account = await tally.accounts.create({ externalId: "user_456", name: "Alice", email: "alice@example.com" });
   * ```
   */
  create(params: AccountCreateParams, options?: RequestOptions): Promise<Account> {
    return this._http.request({ method: "POST", path: "/v1/accounts", body: params, options });
  }

  /**
   * Gets an account by `acct_…` id, `{ accountId }` or `{ externalId }`.
   *
   * @example
   * ```ts
   * const a = await tally.accounts.get("acct_01J…");
   * const b = await tally.accounts.get({ externalId: "user_456" });
   * ```
   */
  get(account: AccountSelector, options?: RequestOptions): Promise<Account> {
    if (typeof account !== "string" && account.externalId !== undefined) return this.getByExternalId(account.externalId, options);
    const id = typeof account === "string" ? account : account.accountId;
    if (id === undefined) throw new TypeError("Name the account by accountId or externalId");
    return this._http.request({ method: "GET", path: `/v1/accounts/${seg(id)}`, options });
  }

  /**
   * Gets an account by your own id.
   *
   * @example
   * ```ts
   * const account = await tally.accounts.getByExternalId("user_456");
   * ```
   */
  getByExternalId(externalId: string, options?: RequestOptions): Promise<Account> {
    return this._http.request({ method: "GET", path: `/v1/accounts/by-external-id/${seg(externalId)}`, options });
  }

  /**
   * Creates the account with this externalId, or updates it (idempotent).
   *
   * @example
   * ```ts
   * const account = await tally.accounts.upsertByExternalId("user_456", { name: "Alice" });
   * ```
   */
  upsertByExternalId(externalId: string, params: AccountUpsertParams = {}, options?: RequestOptions): Promise<Account> {
    return this._http.request({ method: "PUT", path: `/v1/accounts/external/${seg(externalId)}`, body: params, options });
  }

  /**
   * Lists accounts, newest first. Await for one page or `for await` for all.
   *
   * @example
   * ```ts
   * for await (const account of tally.accounts.list({ limit: 100 })) console.log(account.id);
   * ```
   */
  list(params?: AccountListParams, options?: RequestOptions): PagePromise<Account> {
    return this._list<Account, AccountListParams>("/v1/accounts", params, options);
  }

  /**
   * Updates name, email or metadata.
   *
   * @example
   * ```ts
   * await tally.accounts.update({ externalId: "user_456" }, { metadata: { plan: "pro" } });
   * ```
   */
  async update(account: AccountSelector, params: AccountUpdateParams, options?: RequestOptions): Promise<Account> {
    const id = await this._accountId(account, options);
    return this._http.request({ method: "PATCH", path: `/v1/accounts/${seg(id)}`, body: params, options });
  }

  /**
   * Balance of one unit (default `credits`): `{ balance, reserved, available, expiringNext? }`.
   *
   * @example
   * ```ts
   * const { available } = await tally.accounts.balance({ externalId: "user_456" });
   * const gpu = await tally.accounts.balance("acct_01J…", { unit: "gpu_seconds" });
   * ```
   */
  async balance(account: AccountSelector, params?: BalanceParams, options?: RequestOptions): Promise<Balance> {
    const id = await this._accountId(account, options);
    return this._http.request({ method: "GET", path: `/v1/accounts/${seg(id)}/balance`, query: { unit: params?.unit }, options });
  }

  /**
   * Balances of every unit the account holds.
   *
   * @example
   * ```ts
   * const { balances } = await tally.accounts.balances({ externalId: "user_456" });
   * for (const b of balances) console.log(b.unit, b.available);
   * ```
   */
  async balances(account: AccountSelector, options?: RequestOptions): Promise<BalanceList> {
    const id = await this._accountId(account, options);
    return this._http.request({ method: "GET", path: `/v1/accounts/${seg(id)}/balances`, options });
  }

  /**
   * Lists the account's grant lots (what credits it holds, from where, expiring when).
   *
   * @example
   * ```ts
   * for await (const lot of tally.accounts.grants("acct_01J…", { active: true })) console.log(lot.remaining, lot.expiresAt);
   * ```
   */
  grants(account: AccountSelector, params?: GrantListParams, options?: RequestOptions): PagePromise<Grant> {
    return this._accountList<Grant, GrantListParams>(account, "grants", params, options);
  }

  /**
   * Sets automatic top-up: when `available` falls below `threshold`, one purchase of the add-on starts.
   *
   * @example
   * ```ts
   * await tally.accounts.setAutoTopup({ externalId: "user_456" }, { unit: "credits", threshold: 100, addonId: "addon_01J…", enabled: true });
   * ```
   */
  async setAutoTopup(account: AccountSelector, params: AutoTopupParams, options?: RequestOptions): Promise<AutoTopup> {
    const id = await this._accountId(account, options);
    return this._http.request({ method: "PUT", path: `/v1/accounts/${seg(id)}/auto-topup`, body: params, options });
  }

  /**
   * Sets spend limits for one unit; beyond them deducts fail with 402 `SPEND_LIMIT_EXCEEDED`.
   *
   * @example
   * ```ts
   * await tally.accounts.setSpendLimit({ externalId: "user_456" }, "credits", { perHour: 500, perDay: 5000 });
   * ```
   */
  async setSpendLimit(account: AccountSelector, unit: string, params: SpendLimitParams, options?: RequestOptions): Promise<SpendLimit> {
    const id = await this._accountId(account, options);
    return this._http.request({ method: "PUT", path: `/v1/accounts/${seg(id)}/spend-limits/${seg(unit)}`, body: params, options });
  }

  /**
   * Gets the spend limits of one unit and what was spent in the current hour, day and month
   * (UTC). 404 `NOT_FOUND` when no limit was ever set for the unit.
   *
   * @example
   * ```ts
   * const { perDay, spent } = await tally.accounts.getSpendLimit({ externalId: "user_456" }, "credits");
   * console.log(`${spent.day} of ${perDay ?? "∞"} credits spent today`);
   * ```
   */
  async getSpendLimit(account: AccountSelector, unit: string, options?: RequestOptions): Promise<SpendLimit> {
    const id = await this._accountId(account, options);
    return this._http.request({ method: "GET", path: `/v1/accounts/${seg(id)}/spend-limits/${seg(unit)}`, options });
  }
}

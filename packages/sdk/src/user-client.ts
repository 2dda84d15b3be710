/** The browser/mobile client: read-only `/v1/me/*` with an end-user JWT. */
import { ConfigurationError } from "./core/errors.js";
import { DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_MS, HttpClient, type FetchLike, type RequestOptions } from "./core/http.js";
import type { TallyLogger } from "./core/logger.js";
import { PagePromise, type PageData, type PageParams } from "./core/pagination.js";
import { toQuery } from "./core/resource.js";
import type { Account, Balance, BalanceList } from "./types/accounts.js";
import type { EntitlementList, Subscription } from "./types/catalog.js";
import type { Transaction } from "./types/credits.js";
import type { MeBalanceParams, MeSubscriptionListParams, MeTransactionListParams, MeUsageListParams } from "./types/me.js";
import type { UsageRecord } from "./types/usage.js";

/** Options of {@link TallyUserClient}. Give `token` or `getToken`. */
export interface TallyUserClientOptions {
  /** The Tally server, e.g. `https://tally.example.com`. */
  baseUrl: string;
  /** An end-user JWT from your auth provider (Clerk, Auth0, …). Never a secret key. */
  token?: string;
  /** Called before each request for a fresh JWT (e.g. `() => clerk.session.getToken()`). */
  getToken?: () => string | Promise<string>;
  /**
   * The Tally application the user belongs to (`app_…`), sent as the `tally-app` header. Needed
   * unless the token names it (a `tally_app` claim) or the application is configured with the
   * token's issuer.
   */
  appId?: string;
  /** Per-attempt timeout in ms (default 30000). */
  timeoutMs?: number;
  /** Retries after the first attempt (default 3). */
  maxRetries?: number;
  /** A `fetch` implementation (default: the global one). */
  fetch?: FetchLike;
  /** Where request/response lines go (tokens redacted). */
  logger?: TallyLogger;
  /** Log every request and response. */
  debug?: boolean;
}

function refuseSecret(token: string): void {
  if (token.startsWith("sk_") || token.startsWith("hk_")) {
    throw new ConfigurationError(
      "TallyUserClient takes an end-user token (JWT), never a secret or HMAC key: a key in browser code gives every visitor full access. Use `Tally` from @tally/sdk/server on your server instead.",
    );
  }
}

/** The signed-in user's own data, read-only. */
export class Me {
  readonly #http: HttpClient;

  /** @internal */
  constructor(http: HttpClient) {
    this.#http = http;
  }

  /**
   * The user's account.
   *
   * @example
   * ```ts
   * const me = await client.me.get();
   * console.log(me.externalId);
   * ```
   */
  get(options?: RequestOptions): Promise<Account> {
    return this.#http.request({ method: "GET", path: "/v1/me", options });
  }

  /**
   * The user's balances in every unit.
   *
   * @example
   * ```ts
   * const { balances } = await client.me.balances();
   * ```
   */
  balances(options?: RequestOptions): Promise<BalanceList> {
    return this.#http.request({ method: "GET", path: "/v1/me/balances", options });
  }

  /**
   * The user's balance of one unit (default `credits`).
   *
   * @example
   * ```ts
   * const { available } = await client.me.balance({ unit: "credits" });
   * ```
   */
  balance(params?: MeBalanceParams, options?: RequestOptions): Promise<Balance> {
    return this.#http.request({ method: "GET", path: "/v1/me/balance", query: toQuery(params), options });
  }

  /**
   * The user's transactions, newest first (a page that is also an async iterator).
   *
   * @example
   * ```ts
   * for await (const t of client.me.transactions({ limit: 50 })) console.log(t.type, t.amount);
   * ```
   */
  transactions(params?: MeTransactionListParams, options?: RequestOptions): PagePromise<Transaction> {
    return this.#list<Transaction>("/v1/me/transactions", params, options);
  }

  /**
   * The user's usage records.
   *
   * @example
   * ```ts
   * const { items } = await client.me.usage({ limit: 10 });
   * ```
   */
  usage(params?: MeUsageListParams, options?: RequestOptions): PagePromise<UsageRecord> {
    return this.#list<UsageRecord>("/v1/me/usage", params, options);
  }

  /**
   * The features the user's subscriptions give.
   *
   * @example
   * ```ts
   * const { features } = await client.me.entitlements();
   * ```
   */
  entitlements(options?: RequestOptions): Promise<EntitlementList> {
    return this.#http.request({ method: "GET", path: "/v1/me/entitlements", options });
  }

  /**
   * The user's subscriptions.
   *
   * @example
   * ```ts
   * const { items } = await client.me.subscriptions();
   * ```
   */
  subscriptions(params?: MeSubscriptionListParams, options?: RequestOptions): PagePromise<Subscription> {
    return this.#list<Subscription>("/v1/me/subscriptions", params, options);
  }

  #list<T>(path: string, params: PageParams | undefined, options: RequestOptions | undefined): PagePromise<T> {
    return new PagePromise<T>(params ?? {}, (p) => this.#http.request<PageData<T>>({ method: "GET", path, query: toQuery(p), options }));
  }
}

/**
 * Read-only client for browsers and mobile apps, authenticated with an end-user JWT.
 * Refuses secret (`sk_…`) and HMAC (`hk_…`) keys.
 *
 * @example
 * ```ts
 * import { TallyUserClient } from "@tally/sdk/client";
 * const client = new TallyUserClient({ baseUrl: "https://tally.example.com", appId: "app_01J…", getToken: () => auth.getToken() });
 * const { available } = await client.me.balance();
 * ```
 */
export class TallyUserClient {
  /** The signed-in user's data. */
  readonly me: Me;

  constructor(options: TallyUserClientOptions) {
    if (typeof options?.baseUrl !== "string" || options.baseUrl === "") throw new ConfigurationError("TallyUserClient: pass `baseUrl`");
    const { token, getToken } = options;
    if (token === undefined && getToken === undefined) throw new ConfigurationError("TallyUserClient: pass `token` or `getToken`");
    if (token !== undefined) refuseSecret(token);
    const http = new HttpClient({
      baseUrl: options.baseUrl,
      timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      maxRetries: options.maxRetries ?? DEFAULT_MAX_RETRIES,
      fetch: options.fetch,
      auth: async () => {
        const value = getToken !== undefined ? await getToken() : token;
        if (value === undefined || value === "") throw new ConfigurationError("TallyUserClient: getToken returned no token");
        refuseSecret(value);
        return `Bearer ${value}`;
      },
      logger: options.logger,
      debug: options.debug,
      defaultHeaders: options.appId !== undefined ? { "tally-app": options.appId } : undefined,
      sleep: undefined,
      random: undefined,
    });
    this.me = new Me(http);
  }
}

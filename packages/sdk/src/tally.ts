/** The server-side client: `new Tally({ apiKey })`. */
import { ConfigurationError } from "./core/errors.js";
import { signRequest } from "./core/hmac.js";
import { DEFAULT_BASE_URL, DEFAULT_MAX_RETRIES, DEFAULT_TIMEOUT_MS, HttpClient, type AuthStrategy, type FetchLike } from "./core/http.js";
import type { TallyLogger } from "./core/logger.js";
import { readEnv } from "./core/util.js";
import { runGuard, type GuardOptions, type Hold } from "./guard.js";
import { Accounts } from "./resources/accounts.js";
import { ApiKeys, AppResource, Apps } from "./resources/apps.js";
import { Entitlements, Plans, Products, Subscriptions } from "./resources/catalog.js";
import { Addons, Checkout, Invoices, Orders, PurchaseLinksResource } from "./resources/commerce.js";
import { Credits } from "./resources/credits.js";
import { Prices, Units } from "./resources/prices.js";
import { Reservations } from "./resources/reservations.js";
import { Transactions } from "./resources/transactions.js";
import { Usage } from "./resources/usage.js";
import { WebhookEndpoints } from "./resources/webhooks.js";
import type { ReservationCreateParams } from "./types/reservations.js";

/** Options of {@link Tally}. */
export interface TallyOptions {
  /**
   * A secret key (`sk_…`), the admin token (for `apps.create`), or an HMAC key: its secret
   * (`hk_…`, which names its key id), `key_…:hk_…`, or its id `key_…` with `hmacSecret`.
   * Defaults to the `TALLY_API_KEY` environment variable where one exists.
   */
  apiKey?: string;
  /** With an HMAC key: its secret. Every request is then signed (`Tally-HMAC …`) instead of sending a bearer key. */
  hmacSecret?: string;
  /** Default `TALLY_BASE_URL` from the environment, else `http://127.0.0.1:8787`. */
  baseUrl?: string;
  /** Per-attempt timeout in ms (default 30000). */
  timeoutMs?: number;
  /** Alias of `timeoutMs` (the name some SDKs use); `timeoutMs` wins when both are given. */
  timeout?: number;
  /** Retries after the first attempt (default 3). */
  maxRetries?: number;
  /** A `fetch` implementation (default: the global one). */
  fetch?: FetchLike;
  /** Where request/response lines go (secrets redacted). Setting it turns logging on. */
  logger?: TallyLogger;
  /** Log every request and response (to `logger`, else `console`). */
  debug?: boolean;
  /** With the admin token: the application to act on (sent as the `tally-app` header). */
  appId?: string;
  /** Headers added to every request. */
  defaultHeaders?: Record<string, string>;
  /**
   * Replaces the wait between retries (tests use it to avoid real delays).
   * Receives the delay in ms; must honour `signal`.
   */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/**
 * The Tally API client for trusted server code.
 *
 * @example
 * ```ts
 * import { Tally } from "@tally/sdk";
 * const tally = new Tally({ apiKey: process.env.TALLY_API_KEY! });
 * await tally.credits.grant({ externalId: "user_456", amount: 1000, reference: "order_123" });
 * const { available } = await tally.accounts.balance({ externalId: "user_456" });
 * ```
 */
export class Tally {
  /** Accounts: create, get, list, update, balances, grant lots. */
  readonly accounts: Accounts;
  /** Grant, deduct and refund credits. */
  readonly credits: Credits;
  /** The ledger: manual adjustments, list, get. */
  readonly transactions: Transactions;
  /** Holds: create, confirm, cancel, capture, extend. */
  readonly reservations: Reservations;
  /** Usage records and summaries. */
  readonly usage: Usage;
  /** Operation and model prices. */
  readonly prices: Prices;
  /** Unit display settings. */
  readonly units: Units;
  /** Catalog products. */
  readonly products: Products;
  /** Plans. */
  readonly plans: Plans;
  /** Subscriptions to plans. */
  readonly subscriptions: Subscriptions;
  /** Feature checks. */
  readonly entitlements: Entitlements;
  /** Credit packs. */
  readonly addons: Addons;
  /** Hosted checkout. */
  readonly checkout: Checkout;
  /** Orders. */
  readonly orders: Orders;
  /** Ways to buy more credits. */
  readonly purchaseLinks: PurchaseLinksResource;
  /** Invoices. */
  readonly invoices: Invoices;
  /** Outgoing webhooks. */
  readonly webhookEndpoints: WebhookEndpoints;
  /** This application's API keys. */
  readonly apiKeys: ApiKeys;
  /** This application. */
  readonly app: AppResource;
  /** Applications (admin token). */
  readonly apps: Apps;
  /** The resolved base URL, without a trailing slash. */
  readonly baseUrl: string;

  constructor(options: TallyOptions = {}) {
    const apiKey = options.apiKey ?? readEnv("TALLY_API_KEY");
    if (apiKey === undefined || apiKey === "") throw new ConfigurationError("Tally: pass `apiKey` (or set TALLY_API_KEY)");
    const http = new HttpClient({
      baseUrl: options.baseUrl ?? readEnv("TALLY_BASE_URL") ?? DEFAULT_BASE_URL,
      timeoutMs: options.timeoutMs ?? options.timeout ?? DEFAULT_TIMEOUT_MS,
      maxRetries: options.maxRetries ?? DEFAULT_MAX_RETRIES,
      fetch: options.fetch,
      auth: authStrategy(apiKey, options.hmacSecret),
      logger: options.logger,
      debug: options.debug,
      defaultHeaders: { ...options.defaultHeaders, ...(options.appId !== undefined ? { "tally-app": options.appId } : {}) },
      sleep: options.sleep,
      random: undefined,
    });
    this.baseUrl = http.baseUrl;
    this.accounts = new Accounts(http);
    this.credits = new Credits(http);
    this.transactions = new Transactions(http);
    this.reservations = new Reservations(http);
    this.usage = new Usage(http);
    this.prices = new Prices(http);
    this.units = new Units(http);
    this.products = new Products(http);
    this.plans = new Plans(http);
    this.subscriptions = new Subscriptions(http);
    this.entitlements = new Entitlements(http);
    this.addons = new Addons(http);
    this.checkout = new Checkout(http);
    this.orders = new Orders(http);
    this.purchaseLinks = new PurchaseLinksResource(http);
    this.invoices = new Invoices(http);
    this.webhookEndpoints = new WebhookEndpoints(http);
    this.apiKeys = new ApiKeys(http);
    this.app = new AppResource(http);
    this.apps = new Apps(http);
  }

  /**
   * Reserves credits, runs `fn(hold)`, then confirms on success or cancels if `fn` throws
   * (and rethrows). The confirmed amount is what `fn` reported with `hold.setAmount(n)`
   * (captures included), else the reserved amount; reporting 0 cancels the hold. Returns
   * `fn`'s result. Use `hold.capture(n)` to settle parts while streaming.
   *
   * @example
   * ```ts
   * const reply = await tally.guard({ externalId: "user_456", amount: 25, operation: "image.generate" }, async (hold) => {
   *   const image = await generateImage();
   *   hold.setAmount(image.cost);
   *   return image;
   * });
   * ```
   */
  guard<T>(params: ReservationCreateParams & { dryRun?: false }, fn: (hold: Hold) => Promise<T> | T, options?: GuardOptions): Promise<T> {
    return runGuard(this.reservations, params, fn, options);
  }
}

/** An HMAC key's secret as the server issues it: `hk_<key ulid>_<secret>`, naming its key id. */
const HMAC_SECRET_NAMING_ITS_KEY = /^hk_([0-9A-HJKMNP-TV-Z]{26})_[A-Za-z0-9_-]{43}$/;
/** `key_…:hk_…`, the id and the secret in one string. */
const HMAC_KEY_ID_AND_SECRET = /^(key_[0-9A-HJKMNP-TV-Z]{26}):(hk_.+)$/;

/**
 * Bearer for secret keys and tokens; HMAC signing for an HMAC key, given as its secret alone
 * (`hk_…`, which names its key id), as `key_…:hk_…`, or as `apiKey: key_…` with `hmacSecret`.
 */
function authStrategy(apiKey: string, hmacSecret: string | undefined): AuthStrategy {
  const credentials = hmacCredentials(apiKey, hmacSecret);
  if (credentials !== undefined) return (input) => signRequest(credentials, input);
  const header = `Bearer ${apiKey}`;
  return () => header;
}

function hmacCredentials(apiKey: string, hmacSecret: string | undefined): { keyId: string; secret: string } | undefined {
  if (hmacSecret !== undefined) {
    if (hmacSecret === "") throw new ConfigurationError("Tally: hmacSecret is empty");
    return { keyId: apiKey, secret: hmacSecret };
  }
  const named = HMAC_SECRET_NAMING_ITS_KEY.exec(apiKey);
  if (named !== null) return { keyId: `key_${named[1]}`, secret: apiKey };
  const pair = HMAC_KEY_ID_AND_SECRET.exec(apiKey);
  if (pair !== null) return { keyId: pair[1]!, secret: pair[2]! };
  if (apiKey.startsWith("hk_")) throw new ConfigurationError("Tally: this HMAC secret (hk_…) does not name its key: new Tally({ apiKey: keyId, hmacSecret })");
  return undefined;
}

import type { RequestOptions } from "../core/http.js";
import type { PagePromise } from "../core/pagination.js";
import { APIResource, toQuery } from "../core/resource.js";
import { seg } from "../core/util.js";
import type {
  EntitlementCheck,
  EntitlementCheckParams,
  EntitlementList,
  Plan,
  PlanCreateParams,
  PlanListParams,
  Product,
  ProductCreateParams,
  ProductListParams,
  Subscription,
  SubscriptionCancelParams,
  SubscriptionCreateParams,
  SubscriptionListParams,
} from "../types/catalog.js";
import type { AccountSelector } from "../types/common.js";

/** Products: what plans and add-ons belong to. */
export class Products extends APIResource {
  /**
   * Creates a product.
   *
   * @example
   * ```ts
   * const product = await tally.products.create({ name: "Image studio" });
   * ```
   */
  create(params: ProductCreateParams, options?: RequestOptions): Promise<Product> {
    return this._http.request({ method: "POST", path: "/v1/products", body: params, options });
  }

  /**
   * Gets a product.
   *
   * @example
   * ```ts
   * const product = await tally.products.get("prd_01J…");
   * ```
   */
  get(productId: string, options?: RequestOptions): Promise<Product> {
    return this._http.request({ method: "GET", path: `/v1/products/${seg(productId)}`, options });
  }

  /**
   * Lists products.
   *
   * @example
   * ```ts
   * for await (const p of tally.products.list()) console.log(p.name);
   * ```
   */
  list(params?: ProductListParams, options?: RequestOptions): PagePromise<Product> {
    return this._list<Product, ProductListParams>("/v1/products", params, options);
  }
}

/** Plans: price, interval, credits per period, features. */
export class Plans extends APIResource {
  /**
   * Creates a plan.
   *
   * @example
   * ```ts
   * const pro = await tally.plans.create({ name: "Pro", priceAmount: 2000, currency: "usd", interval: "month",
   *   credits: [{ unit: "credits", amount: 10000 }], features: ["advanced_analytics"] });
   * ```
   */
  create(params: PlanCreateParams, options?: RequestOptions): Promise<Plan> {
    return this._http.request({ method: "POST", path: "/v1/plans", body: params, options });
  }

  /**
   * Gets a plan.
   *
   * @example
   * ```ts
   * const plan = await tally.plans.get("plan_01J…");
   * ```
   */
  get(planId: string, options?: RequestOptions): Promise<Plan> {
    return this._http.request({ method: "GET", path: `/v1/plans/${seg(planId)}`, options });
  }

  /**
   * Lists plans.
   *
   * @example
   * ```ts
   * const { items: plans } = await tally.plans.list();
   * for (const plan of plans) console.log(`${plan.name} - $${plan.priceAmount / 100}/${plan.interval}`);
   * ```
   */
  list(params?: PlanListParams, options?: RequestOptions): PagePromise<Plan> {
    return this._list<Plan, PlanListParams>("/v1/plans", params, options);
  }
}

/** Subscriptions: an account on a plan, granting its credits each period. */
export class Subscriptions extends APIResource {
  /**
   * Subscribes an account to a plan.
   *
   * @example
   * ```ts
   * const sub = await tally.subscriptions.create({ externalId: "user_456", planId: "plan_01J…" });
   * ```
   */
  create(params: SubscriptionCreateParams, options?: RequestOptions): Promise<Subscription> {
    return this._http.request({ method: "POST", path: "/v1/subscriptions", body: params, options });
  }

  /**
   * Gets a subscription.
   *
   * @example
   * ```ts
   * const { status, currentPeriodEnd } = await tally.subscriptions.get("sub_01J…");
   * ```
   */
  get(subscriptionId: string, options?: RequestOptions): Promise<Subscription> {
    return this._http.request({ method: "GET", path: `/v1/subscriptions/${seg(subscriptionId)}`, options });
  }

  /**
   * Lists subscriptions, by account and status.
   *
   * @example
   * ```ts
   * const { items } = await tally.subscriptions.list({ externalId: "workspace_abc123" });
   * console.log(items[0]?.status);
   * ```
   */
  list(params?: SubscriptionListParams, options?: RequestOptions): PagePromise<Subscription> {
    return this._list<Subscription, SubscriptionListParams>("/v1/subscriptions", params, options);
  }

  /**
   * Cancels a subscription, by default at the end of the period.
   *
   * @example
   * ```ts
   * await tally.subscriptions.cancel("sub_01J…", { reason: "User requested cancellation" });
   * ```
   */
  cancel(subscriptionId: string, params: SubscriptionCancelParams = {}, options?: RequestOptions): Promise<Subscription> {
    return this._http.request({ method: "POST", path: `/v1/subscriptions/${seg(subscriptionId)}/cancel`, body: params, options });
  }
}

/** Entitlements: which features an account's subscriptions give it. */
export class Entitlements extends APIResource {
  /**
   * Whether an account may use a feature (or, without `feature`, has any live subscription).
   *
   * @example
   * ```ts
   * const { allowed, reason } = await tally.entitlements.check({ externalId: "workspace_abc123", feature: "advanced_analytics" });
   * ```
   */
  check(params: EntitlementCheckParams, options?: RequestOptions): Promise<EntitlementCheck> {
    return this._http.request({ method: "GET", path: "/v1/entitlements/check", query: toQuery(params), options });
  }

  /**
   * Every feature the account is entitled to.
   *
   * @example
   * ```ts
   * const { features } = await tally.entitlements.list({ externalId: "workspace_abc123" });
   * ```
   */
  async list(account: AccountSelector, options?: RequestOptions): Promise<EntitlementList> {
    const id = await this._accountId(account, options);
    return this._http.request({ method: "GET", path: `/v1/accounts/${seg(id)}/entitlements`, options });
  }
}

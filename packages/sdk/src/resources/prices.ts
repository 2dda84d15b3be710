import type { RequestOptions } from "../core/http.js";
import type { PagePromise } from "../core/pagination.js";
import { APIResource } from "../core/resource.js";
import { seg } from "../core/util.js";
import type { ItemList } from "../types/common.js";
import type { Price, PriceListParams, PriceSetParams, Unit, UnitSetParams } from "../types/prices.js";

/** Prices: what an operation or a model call costs. */
export class Prices extends APIResource {
  /**
   * Creates or replaces the price under `key`: an operation price `{ unit, amount }` (used by
   * deducts with `operation: key` and no amount) or a model price.
   *
   * @example
   * ```ts
   * await tally.prices.set("app.chat.reply", { unit: "credits", amount: 3 });
   * await tally.prices.set("gpt-4o", { unit: "credits", modelId: "gpt-4o", inputPerMillion: 2500, outputPerMillion: 10000 });
   * ```
   */
  set(key: string, params: PriceSetParams, options?: RequestOptions): Promise<Price> {
    return this._http.request({ method: "PUT", path: `/v1/prices/${seg(key)}`, body: params, options });
  }

  /**
   * Lists prices.
   *
   * @example
   * ```ts
   * for await (const price of tally.prices.list()) console.log(price.key, price.amount);
   * ```
   */
  list(params?: PriceListParams, options?: RequestOptions): PagePromise<Price> {
    return this._list<Price, PriceListParams>("/v1/prices", params, options);
  }
}

/** Units: optional display names and decimals for units (undeclared units work too). */
export class Units extends APIResource {
  /**
   * Declares a unit's display name and decimals.
   *
   * @example
   * ```ts
   * await tally.units.set("gpu_seconds", { name: "GPU seconds", decimals: 0 });
   * ```
   */
  set(unit: string, params: UnitSetParams, options?: RequestOptions): Promise<Unit> {
    return this._http.request({ method: "PUT", path: `/v1/units/${seg(unit)}`, body: params, options });
  }

  /**
   * Lists declared units.
   *
   * @example
   * ```ts
   * const { items } = await tally.units.list();
   * ```
   */
  list(options?: RequestOptions): Promise<ItemList<Unit>> {
    return this._http.request({ method: "GET", path: "/v1/units", options });
  }
}

import { Type } from "typebox";
import type { Router } from "../router.ts";
import type { RouteDeps } from "./deps.ts";
import { NonNegativeAmount, Page, PageQuery, ShortString, Unit, strictObject, Amount } from "../schemas/common.ts";
import { Price, UnitInfo } from "../schemas/models.ts";
import { present } from "../present.ts";
import * as prices from "../../domain/prices.ts";

const PriceKey = Type.String({ minLength: 1, maxLength: 255, pattern: "^[A-Za-z0-9_.:/-]+$" });

export function priceRoutes(r: Router, _deps: RouteDeps): void {
  r.add(
    {
      method: "PUT",
      url: "/v1/prices/{key}",
      auth: "app",
      tag: "Prices",
      summary: "Set the price of an operation ({ unit, amount }) or of a model's tokens",
      params: strictObject({ key: PriceKey }),
      body: Type.Union([
        strictObject({ unit: Unit, amount: Amount }),
        strictObject({
          unit: Unit,
          modelId: ShortString,
          inputPerMillion: NonNegativeAmount,
          outputPerMillion: NonNegativeAmount,
          perRequest: Type.Optional(NonNegativeAmount),
        }),
      ]),
      responses: { 200: Price },
    },
    async ({ scope, params, body }) => present.price(await prices.setPrice(scope, params.key, body as prices.PriceInput)),
  );

  r.add(
    {
      method: "GET",
      url: "/v1/prices",
      auth: "app",
      tag: "Prices",
      summary: "List prices by key",
      query: strictObject(PageQuery),
      responses: { 200: Page(Price) },
    },
    async ({ scope, query }) => {
      const limit = query.limit ?? 20;
      const rows = await prices.listPrices(scope, query.cursor, limit + 1);
      const hasMore = rows.length > limit;
      const items = hasMore ? rows.slice(0, limit) : rows;
      return { items: items.map(present.price), nextCursor: hasMore ? items[items.length - 1]!.key : null, hasMore };
    },
  );

  r.add(
    {
      method: "PUT",
      url: "/v1/units/{unit}",
      auth: "app",
      tag: "Prices",
      summary: "Declare a unit's display name and decimals (undeclared units work too)",
      params: strictObject({ unit: Unit }),
      body: strictObject({ name: Type.Optional(ShortString), decimals: Type.Optional(Type.Integer({ minimum: 0, maximum: 18 })) }),
      responses: { 200: UnitInfo },
    },
    async ({ scope, params, body }) => present.unit(await prices.setUnit(scope, params.unit, body)),
  );

  r.add(
    { method: "GET", url: "/v1/units", auth: "app", tag: "Prices", summary: "Declared units", responses: { 200: Type.Object({ items: Type.Array(UnitInfo) }) } },
    async ({ scope }) => ({ items: (await prices.listUnits(scope)).map(present.unit) }),
  );
}

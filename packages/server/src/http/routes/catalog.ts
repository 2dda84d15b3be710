import { Type } from "typebox";
import type { Router } from "../router.ts";
import type { RouteDeps } from "./deps.ts";
import { Amount, Description, Id, IdParams, Metadata, NonNegativeAmount, Page, PageQuery, ShortString, Unit, strictObject } from "../schemas/common.ts";
import { Addon, Plan, Product } from "../schemas/commerce.ts";
import { pageOf, presentCommerce as p } from "../present-commerce.ts";
import * as catalog from "../../domain/catalog.ts";

const Currency = Type.String({ pattern: "^[A-Za-z]{3}$", description: "ISO 4217 code, e.g. usd" });
const Feature = Type.String({ minLength: 1, maxLength: 128 });

export function catalogRoutes(r: Router, _deps: RouteDeps): void {
  r.add(
    {
      method: "POST", url: "/v1/products", auth: "app", tag: "Catalog", summary: "Create a product",
      body: strictObject({ name: ShortString, description: Type.Optional(Description), metadata: Type.Optional(Metadata) }),
      responses: { 201: Product },
    },
    async ({ scope, body }) => p.product(await catalog.createProduct(scope, body)),
  );
  r.add(
    { method: "GET", url: "/v1/products", auth: "app", tag: "Catalog", summary: "List products", query: strictObject(PageQuery), responses: { 200: Page(Product) } },
    async ({ scope, query }) => {
      const limit = query.limit ?? 20;
      return pageOf(await catalog.listProducts(scope, query.cursor, limit + 1), limit, p.product);
    },
  );
  r.add(
    { method: "GET", url: "/v1/products/{productId}", auth: "app", tag: "Catalog", summary: "Get a product", params: IdParams("productId"), responses: { 200: Product } },
    async ({ scope, params }) => p.product(await catalog.getProduct(scope, params.productId)),
  );

  r.add(
    {
      method: "POST", url: "/v1/plans", auth: "app", tag: "Catalog", summary: "Create a plan: a price, an interval, credits per period and features",
      body: strictObject({
        productId: Type.Optional(Id),
        name: ShortString,
        priceAmount: NonNegativeAmount,
        currency: Currency,
        interval: Type.Union([Type.Literal("month"), Type.Literal("year"), Type.Literal("one_time")]),
        trialDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 730 })),
        credits: Type.Array(strictObject({ unit: Unit, amount: Amount, rollover: Type.Optional(Type.Boolean()) }), { maxItems: 20 }),
        features: Type.Array(Feature, { maxItems: 100 }),
      }),
      responses: { 201: Plan },
    },
    async ({ scope, body }) => p.plan(await catalog.createPlan(scope, body)),
  );
  r.add(
    {
      method: "GET", url: "/v1/plans", auth: "app", tag: "Catalog", summary: "List plans",
      query: strictObject({ ...PageQuery, productId: Type.Optional(Id) }), responses: { 200: Page(Plan) },
    },
    async ({ scope, query }) => {
      const limit = query.limit ?? 20;
      return pageOf(await catalog.listPlans(scope, { productId: query.productId, after: query.cursor }, limit + 1), limit, p.plan);
    },
  );
  r.add(
    { method: "GET", url: "/v1/plans/{planId}", auth: "app", tag: "Catalog", summary: "Get a plan", params: IdParams("planId"), responses: { 200: Plan } },
    async ({ scope, params }) => p.plan(await catalog.getPlan(scope, params.planId)),
  );

  r.add(
    {
      method: "POST", url: "/v1/addons", auth: "app", tag: "Catalog", summary: "Create an add-on (a credit pack; priceAmount 0 = free, granted at once)",
      body: strictObject({
        productId: Type.Optional(Id),
        name: ShortString,
        unit: Unit,
        creditQty: Amount,
        priceAmount: NonNegativeAmount,
        currency: Currency,
        expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
      }),
      responses: { 201: Addon },
    },
    async ({ scope, body }) => p.addon(await catalog.createAddon(scope, body)),
  );
  r.add(
    {
      method: "GET", url: "/v1/addons", auth: "app", tag: "Catalog", summary: "List add-ons",
      query: strictObject({ ...PageQuery, productId: Type.Optional(Id) }), responses: { 200: Page(Addon) },
    },
    async ({ scope, query }) => {
      const limit = query.limit ?? 20;
      return pageOf(await catalog.listAddons(scope, { productId: query.productId, after: query.cursor }, limit + 1), limit, p.addon);
    },
  );
  r.add(
    { method: "GET", url: "/v1/addons/{addonId}", auth: "app", tag: "Catalog", summary: "Get an add-on", params: IdParams("addonId"), responses: { 200: Addon } },
    async ({ scope, params }) => p.addon(await catalog.getAddon(scope, params.addonId)),
  );
}

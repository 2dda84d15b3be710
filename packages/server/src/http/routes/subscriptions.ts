import { Type } from "typebox";
import type { Router } from "../router.ts";
import type { RouteDeps } from "./deps.ts";
import { AccountRefFields, Description, Id, IdParams, Page, PageQuery, strictObject } from "../schemas/common.ts";
import { Subscription, SubscriptionStatus } from "../schemas/commerce.ts";
import { pageOf, presentCommerce as p } from "../present-commerce.ts";
import * as subs from "../../domain/subscriptions.ts";
import { checkEntitlement, listEntitlements } from "../../domain/entitlements.ts";
import { checkAccountRef, filterAccountId, requireAccount } from "../../domain/accounts.ts";

const EntitlementList = Type.Object({ features: Type.Array(Type.Object({ feature: Type.String(), productId: Type.Union([Type.String(), Type.Null()]), planId: Type.String() })) });

export function subscriptionRoutes(r: Router, _deps: RouteDeps): void {
  r.add(
    {
      method: "POST", url: "/v1/subscriptions", auth: "app", tag: "Subscriptions",
      summary: "Subscribe an account to a plan (its first period's credits are granted at once)",
      body: strictObject({
        ...AccountRefFields,
        planId: Id,
        startMode: Type.Optional(Type.Union([Type.Literal("immediate"), Type.Literal("period_end")], { default: "immediate" })),
        trialDays: Type.Optional(Type.Integer({ minimum: 0, maximum: 730 })),
      }),
      responses: { 201: Subscription },
    },
    async ({ scope, body }) => {
      checkAccountRef(body);
      return p.subscription(await subs.createSubscription(scope, { ...body, startMode: body.startMode ?? "immediate" }));
    },
  );
  r.add(
    {
      method: "GET", url: "/v1/subscriptions", auth: "app", tag: "Subscriptions", summary: "List subscriptions (of one account when named)",
      query: strictObject({ ...PageQuery, ...AccountRefFields, status: Type.Optional(SubscriptionStatus) }),
      responses: { 200: Page(Subscription) },
    },
    async ({ scope, query }) => {
      const limit = query.limit ?? 20;
      const accountId = await filterAccountId(scope, query);
      const rows = await subs.listSubscriptions(scope, { accountId, status: query.status as subs.SubscriptionStatus | undefined, after: query.cursor, limit });
      return pageOf(rows, limit, p.subscription);
    },
  );
  r.add(
    { method: "GET", url: "/v1/subscriptions/{subscriptionId}", auth: "app", tag: "Subscriptions", summary: "Get a subscription", params: IdParams("subscriptionId"), responses: { 200: Subscription } },
    async ({ scope, params }) => p.subscription(await subs.getSubscription(scope, params.subscriptionId)),
  );
  r.add(
    {
      method: "POST", url: "/v1/subscriptions/{subscriptionId}/cancel", auth: "app", tag: "Subscriptions",
      summary: "Cancel at period end (default; status pending_cancel) or now",
      params: IdParams("subscriptionId"),
      body: strictObject({ atPeriodEnd: Type.Optional(Type.Boolean()), reason: Type.Optional(Description) }),
      responses: { 200: Subscription },
    },
    async ({ scope, params, body }) => p.subscription(await subs.cancelSubscription(scope, params.subscriptionId, body)),
  );

  r.add(
    {
      method: "GET", url: "/v1/entitlements/check", auth: "app", tag: "Subscriptions",
      summary: "Is the account entitled to a feature (or, without feature, subscribed at all / to a product)?",
      query: strictObject({ ...AccountRefFields, feature: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })), productId: Type.Optional(Id) }),
      responses: { 200: Type.Object({ allowed: Type.Boolean(), reason: Type.Union([Type.Literal("ok"), Type.Literal("no_subscription"), Type.Literal("feature_not_in_plan")]) }) },
    },
    async ({ scope, query }) => {
      checkAccountRef(query);
      return checkEntitlement(scope, query, { feature: query.feature, productId: query.productId });
    },
  );
  r.add(
    {
      method: "GET", url: "/v1/accounts/{accountId}/entitlements", auth: "app", tag: "Subscriptions", summary: "Features the account has through its live subscriptions",
      params: IdParams("accountId"), responses: { 200: EntitlementList },
    },
    async ({ scope, params }) => {
      await scope.db.read((q) => requireAccount(q, scope.appId, { accountId: params.accountId }));
      return { features: await listEntitlements(scope, params.accountId) };
    },
  );
}

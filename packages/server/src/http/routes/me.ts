import { Type } from "typebox";
import type { Router } from "../router.ts";
import type { RouteDeps } from "./deps.ts";
import { Page, PageQuery, ShortString, Timestamp, Unit, strictObject } from "../schemas/common.ts";
import { Account, Balance, Transaction, TransactionType, UsageContext, UsageRecord } from "../schemas/models.ts";
import { page, present } from "../present.ts";
import { requireAccount } from "../../domain/accounts.ts";
import { DEFAULT_UNIT, getAccountBalance, getAccountBalances } from "../../domain/balances.ts";
import { listUsage } from "../../domain/usage.ts";
import { listEntitlements } from "../../domain/entitlements.ts";
import { listSubscriptions, type SubscriptionRecord } from "../../domain/subscriptions.ts";
import { listTransactions } from "../../store/repo/transactions.ts";
import { LIMITS } from "../../domain/limits.ts";
import { Subscription, SubscriptionStatus } from "../schemas/commerce.ts";
import { presentCommerce } from "../present-commerce.ts";
import type { Principal } from "../../auth/principal.ts";
import type { Scope } from "../../domain/context.ts";
import type { AccountRecord, TransactionType as TxType, UsageContext as Ctx } from "../../store/records.ts";

/**
 * The token's own account: the one whose `externalId` is the token's subject, in the token's
 * application. There is no parameter naming an account on these routes, so there is nothing
 * to point at someone else's; an unknown subject is 404 `ACCOUNT_NOT_FOUND`.
 */
async function myAccount(scope: Scope, principal: Principal): Promise<AccountRecord> {
  if (principal.kind !== "endUser") throw new Error("unreachable: /v1/me routes admit end-user tokens only");
  return scope.db.read((q) => requireAccount(q, scope.appId, { externalId: principal.subject }));
}

/** `GET /v1/me/…`: read-only views of the end user's own account, for browser and mobile clients. */
export function meRoutes(r: Router, _deps: RouteDeps): void {
  const tag = "End user";

  r.add({ method: "GET", url: "/v1/me", auth: "me", tag, summary: "The signed-in user's account", responses: { 200: Account } }, async ({ scope, principal }) =>
    present.account(await myAccount(scope, principal)),
  );

  r.add(
    {
      method: "GET",
      url: "/v1/me/balances",
      auth: "me",
      tag,
      summary: "The user's balances in every unit",
      responses: { 200: Type.Object({ accountId: Type.String(), balances: Type.Array(Balance) }) },
    },
    async ({ scope, principal }) => {
      const account = await myAccount(scope, principal);
      const { accountId, balances } = await getAccountBalances(scope, { accountId: account.id });
      return { accountId, balances: balances.map(present.balance) };
    },
  );

  r.add(
    {
      method: "GET",
      url: "/v1/me/balance",
      auth: "me",
      tag,
      summary: "The user's balance in one unit",
      query: strictObject({ unit: Type.Optional(Unit) }),
      responses: { 200: Balance },
    },
    async ({ scope, principal, query }) => {
      const account = await myAccount(scope, principal);
      return present.balance(await getAccountBalance(scope, { accountId: account.id }, query.unit ?? DEFAULT_UNIT));
    },
  );

  r.add(
    {
      method: "GET",
      url: "/v1/me/transactions",
      auth: "me",
      tag,
      summary: "The user's transactions, newest first",
      query: strictObject({ ...PageQuery, unit: Type.Optional(Unit), type: Type.Optional(TransactionType), from: Type.Optional(Timestamp), to: Type.Optional(Timestamp) }),
      responses: { 200: Page(Transaction) },
    },
    async ({ scope, principal, query }) => {
      const account = await myAccount(scope, principal);
      const limit = query.limit ?? LIMITS.pageLimitDefault;
      const rows = await scope.db.read((q) =>
        listTransactions(q, scope.appId, {
          accountId: account.id,
          limit: limit + 1,
          ...(query.unit !== undefined ? { unit: query.unit } : {}),
          ...(query.type !== undefined ? { type: query.type as TxType } : {}),
          ...(query.from !== undefined ? { fromMs: Date.parse(query.from) } : {}),
          ...(query.to !== undefined ? { toMs: Date.parse(query.to) } : {}),
          ...(query.cursor !== undefined ? { beforeId: query.cursor } : {}),
        }),
      );
      return page(rows, limit, present.transaction);
    },
  );

  r.add(
    {
      method: "GET",
      url: "/v1/me/usage",
      auth: "me",
      tag,
      summary: "The user's usage records, newest first",
      query: strictObject({ ...PageQuery, context: Type.Optional(UsageContext), modelId: Type.Optional(ShortString), from: Type.Optional(Timestamp), to: Type.Optional(Timestamp) }),
      responses: { 200: Page(UsageRecord) },
    },
    async ({ scope, principal, query }) => {
      const account = await myAccount(scope, principal);
      const limit = query.limit ?? LIMITS.pageLimitDefault;
      const rows = await listUsage(scope, {
        accountId: account.id,
        limit: limit + 1,
        ...(query.context !== undefined ? { context: query.context as Ctx } : {}),
        ...(query.modelId !== undefined ? { modelId: query.modelId } : {}),
        ...(query.from !== undefined ? { fromMs: Date.parse(query.from) } : {}),
        ...(query.to !== undefined ? { toMs: Date.parse(query.to) } : {}),
        ...(query.cursor !== undefined ? { beforeId: query.cursor } : {}),
      });
      return page(rows, limit, present.usage);
    },
  );

  r.add(
    {
      method: "GET",
      url: "/v1/me/entitlements",
      auth: "me",
      tag,
      summary: "The features the user has through live subscriptions",
      responses: { 200: Type.Object({ features: Type.Array(Type.Object({ feature: Type.String(), productId: Type.Union([Type.String(), Type.Null()]), planId: Type.String() })) }) },
    },
    async ({ scope, principal }) => {
      const account = await myAccount(scope, principal);
      return { features: await listEntitlements(scope, account.id) };
    },
  );

  r.add(
    {
      method: "GET",
      url: "/v1/me/subscriptions",
      auth: "me",
      tag,
      summary: "The user's subscriptions",
      query: strictObject({ ...PageQuery, status: Type.Optional(SubscriptionStatus) }),
      responses: { 200: Page(Subscription) },
    },
    async ({ scope, principal, query }) => {
      const account = await myAccount(scope, principal);
      const limit = query.limit ?? LIMITS.pageLimitDefault;
      const rows = await listSubscriptions(scope, {
        accountId: account.id,
        limit,
        ...(query.status !== undefined ? { status: query.status as SubscriptionRecord["status"] } : {}),
        ...(query.cursor !== undefined ? { after: query.cursor } : {}),
      });
      return page(rows, limit, presentCommerce.subscription);
    },
  );
}

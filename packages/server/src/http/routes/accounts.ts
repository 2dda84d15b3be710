import { Type } from "typebox";
import type { Router } from "../router.ts";
import type { RouteDeps } from "./deps.ts";
import { Email, IdParams, Metadata, Page, PageQuery, ShortString, Unit, strictObject } from "../schemas/common.ts";
import { Account, Balance, Grant } from "../schemas/models.ts";
import { page, present } from "../present.ts";
import * as accounts from "../../domain/accounts.ts";
import { getAccountBalance, getAccountBalances, DEFAULT_UNIT } from "../../domain/balances.ts";
import { listLots } from "../../store/repo/lots.ts";

const AccountFields = {
  name: Type.Optional(Type.Union([ShortString, Type.Null()])),
  email: Type.Optional(Type.Union([Email, Type.Null()])),
  metadata: Type.Optional(Metadata),
};

export function accountRoutes(r: Router, deps: RouteDeps): void {
  r.add(
    {
      method: "POST",
      url: "/v1/accounts",
      auth: "app",
      tag: "Accounts",
      summary: "Create an account",
      body: strictObject({ externalId: Type.Optional(ShortString), ...AccountFields }),
      responses: { 201: Account },
    },
    async ({ scope, body }) => present.account(await accounts.createAccount(scope, body)),
  );

  r.add(
    {
      method: "PUT",
      url: "/v1/accounts/external/{externalId}",
      auth: "app",
      tag: "Accounts",
      summary: "Create or update the account with this external id",
      params: strictObject({ externalId: ShortString }),
      body: strictObject(AccountFields),
      responses: { 200: Account, 201: Account },
    },
    async ({ scope, params, body, status }) => {
      const { account, created } = await accounts.upsertAccount(scope, params.externalId, body);
      if (created) status(201);
      return present.account(account);
    },
  );

  r.add(
    {
      method: "GET",
      url: "/v1/accounts",
      auth: "app",
      tag: "Accounts",
      summary: "List accounts, newest first",
      query: strictObject({ ...PageQuery, externalId: Type.Optional(ShortString), email: Type.Optional(ShortString), search: Type.Optional(ShortString) }),
      responses: { 200: Page(Account) },
    },
    async ({ scope, query }) => {
      const limit = query.limit ?? 20;
      const rows = await accounts.listAccounts(scope, {
        limit: limit + 1,
        ...(query.externalId !== undefined ? { externalId: query.externalId } : {}),
        ...(query.email !== undefined ? { email: query.email } : {}),
        ...(query.search !== undefined ? { search: query.search } : {}),
        ...(query.cursor !== undefined ? { beforeId: query.cursor } : {}),
      });
      return page(rows, limit, present.account);
    },
  );

  r.add(
    { method: "GET", url: "/v1/accounts/{accountId}", auth: "app", tag: "Accounts", summary: "Get an account", params: IdParams("accountId"), responses: { 200: Account } },
    async ({ scope, params }) => present.account(await accounts.getAccount(scope, { accountId: params.accountId })),
  );

  r.add(
    {
      method: "GET",
      url: "/v1/accounts/by-external-id/{externalId}",
      auth: "app",
      tag: "Accounts",
      summary: "Get an account by your own id for it",
      params: strictObject({ externalId: ShortString }),
      responses: { 200: Account },
    },
    async ({ scope, params }) => present.account(await accounts.getAccount(scope, { externalId: params.externalId })),
  );

  r.add(
    {
      method: "PATCH",
      url: "/v1/accounts/{accountId}",
      auth: "app",
      tag: "Accounts",
      summary: "Update an account (metadata keys set to \"\" are removed)",
      params: IdParams("accountId"),
      body: strictObject(AccountFields),
      responses: { 200: Account },
    },
    async ({ scope, params, body }) => present.account(await accounts.updateAccount(scope, params.accountId, body)),
  );

  r.add(
    {
      method: "GET",
      url: "/v1/accounts/{accountId}/balance",
      direct: true,
      auth: "app",
      tag: "Balances",
      summary: "Balance in one unit",
      params: IdParams("accountId"),
      query: strictObject({ unit: Type.Optional(Unit) }),
      responses: { 200: Balance },
    },
    async ({ scope, params, query }) => present.balance(await getAccountBalance(scope, { accountId: params.accountId }, query.unit ?? DEFAULT_UNIT)),
  );

  r.add(
    {
      method: "GET",
      url: "/v1/accounts/{accountId}/balances",
      direct: true,
      auth: "app",
      tag: "Balances",
      summary: "Balances in every unit the account has used",
      params: IdParams("accountId"),
      responses: { 200: Type.Object({ accountId: Type.String(), balances: Type.Array(Balance) }) },
    },
    async ({ scope, params }) => {
      const { accountId, balances } = await getAccountBalances(scope, { accountId: params.accountId });
      return { accountId, balances: balances.map(present.balance) };
    },
  );

  r.add(
    {
      method: "GET",
      url: "/v1/accounts/{accountId}/grants",
      auth: "app",
      tag: "Credits",
      summary: "The account's lots of credits, newest first",
      params: IdParams("accountId"),
      query: strictObject({ ...PageQuery, unit: Type.Optional(Unit), active: Type.Optional(Type.Boolean()) }),
      responses: { 200: Page(Grant) },
    },
    async ({ scope, params, query }) => {
      const account = await accounts.getAccount(scope, { accountId: params.accountId });
      const limit = query.limit ?? 20;
      const rows = await scope.db.read((q) =>
        listLots(q, scope.appId, account.id, {
          limit: limit + 1,
          ...(query.unit !== undefined ? { unit: query.unit } : {}),
          ...(query.active !== undefined ? { active: { is: query.active, atMs: scope.clock.nowMs() } } : {}),
          ...(query.cursor !== undefined ? { beforeId: query.cursor } : {}),
        }),
      );
      return page(rows, limit, present.grant);
    },
  );
}

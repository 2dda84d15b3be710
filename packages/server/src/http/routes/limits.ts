import { Type } from "typebox";
import type { Router } from "../router.ts";
import type { RouteDeps } from "./deps.ts";
import { Id, IdParams, NonNegativeAmount, Unit, strictObject } from "../schemas/common.ts";
import { AutoTopup, SpendLimit } from "../schemas/commerce.ts";
import { setAutoTopup } from "../../domain/auto-topup.ts";
import { getSpendLimits, setSpendLimits } from "../../domain/spend-limits.ts";
import { requireAccount } from "../../domain/accounts.ts";
import { notFound } from "../../domain/errors.ts";

/** A limit, or null for none. */
const Nullable = Type.Union([NonNegativeAmount, Type.Null()]);

export function limitRoutes(r: Router, _deps: RouteDeps): void {
  r.add(
    {
      method: "PUT", url: "/v1/accounts/{accountId}/auto-topup", auth: "app", tag: "Limits",
      summary: "When available falls below threshold after a spend, one purchase of the add-on starts (never two at once)",
      params: IdParams("accountId"),
      body: strictObject({ unit: Type.Optional(Unit), threshold: NonNegativeAmount, addonId: Id, enabled: Type.Boolean() }),
      responses: { 200: AutoTopup },
    },
    async ({ scope, params, body }) => setAutoTopup(scope, { accountId: params.accountId }, { ...body, unit: body.unit ?? "credits" }),
  );
  r.add(
    {
      method: "PUT", url: "/v1/accounts/{accountId}/spend-limits/{unit}", auth: "app", tag: "Limits",
      summary: "Cap spending per hour, day and calendar month (UTC); beyond a limit deducts, captures and confirms fail with 402 SPEND_LIMIT_EXCEEDED",
      params: strictObject({ accountId: Id, unit: Unit }),
      body: strictObject({ perHour: Type.Optional(Nullable), perDay: Type.Optional(Nullable), perMonth: Type.Optional(Nullable) }),
      responses: { 200: SpendLimit },
    },
    async ({ scope, params, body }) =>
      setSpendLimits(scope, { accountId: params.accountId }, params.unit, { perHour: body.perHour ?? null, perDay: body.perDay ?? null, perMonth: body.perMonth ?? null }),
  );
  r.add(
    {
      method: "GET", url: "/v1/accounts/{accountId}/spend-limits/{unit}", auth: "app", tag: "Limits", summary: "An account's spend limits and what it spent in the current windows",
      params: strictObject({ accountId: Id, unit: Unit }), responses: { 200: SpendLimit },
    },
    async ({ scope, params }) => {
      await scope.db.read((q) => requireAccount(q, scope.appId, { accountId: params.accountId }));
      const view = await getSpendLimits(scope, params.accountId, params.unit);
      if (view === undefined) throw notFound("NOT_FOUND", "spend limit for unit", params.unit);
      return view;
    },
  );
}

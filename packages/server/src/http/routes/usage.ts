import { Type } from "typebox";
import type { Router } from "../router.ts";
import type { RouteDeps } from "./deps.ts";
import { AccountRefFields, Description, Id, IdempotencyKey, Metadata, Page, PageQuery, ShortString, Timestamp, Unit, strictObject } from "../schemas/common.ts";
import { Transaction, UsageContext, UsageRecord, UsageType } from "../schemas/models.ts";
import { page, present } from "../present.ts";
import * as usage from "../../domain/usage.ts";
import { checkAccountRef, requireAccount } from "../../domain/accounts.ts";
import { LIMITS } from "../../domain/limits.ts";
import { ledgerKey } from "./credits.ts";
import type { UsageContext as Ctx, UsageType as UType } from "../../store/records.ts";
import type { Scope } from "../../domain/context.ts";

const Tokens = Type.Integer({ minimum: 0, maximum: LIMITS.tokensMax });

async function accountFilter(scope: Scope, ref: { accountId?: string | undefined; externalId?: string | undefined }): Promise<{ accountId?: string }> {
  if (ref.accountId === undefined && ref.externalId === undefined) return {};
  const account = await scope.db.read((q) => requireAccount(q, scope.appId, ref));
  return { accountId: account.id };
}

export function usageRoutes(r: Router, _deps: RouteDeps): void {
  r.add(
    {
      method: "POST",
      url: "/v1/usage",
      direct: true,
      auth: "app",
      tag: "Usage",
      summary: "Record a model call; with charge: true, deduct its priced cost atomically",
      body: strictObject({
        ...AccountRefFields,
        transactionId: Type.Optional(Id),
        context: Type.Optional(UsageContext),
        modelId: ShortString,
        usageType: UsageType,
        inputTokens: Type.Optional(Tokens),
        outputTokens: Type.Optional(Tokens),
        quantity: Type.Optional(Tokens),
        charge: Type.Optional(Type.Boolean()),
        unit: Type.Optional(Unit),
        idempotencyKey: Type.Optional(IdempotencyKey),
        description: Type.Optional(Description),
        metadata: Type.Optional(Metadata),
      }),
      responses: { 201: Type.Object({ usage: UsageRecord, transaction: Type.Optional(Transaction), alreadyProcessed: Type.Optional(Type.Boolean()) }) },
    },
    async ({ scope, body, idempotencyKey }) => {
      checkAccountRef(body);
      const result = await usage.recordUsage(scope, {
        ...body,
        context: body.context as Ctx | undefined,
        usageType: body.usageType as UType,
        idempotencyKey: ledgerKey(body, idempotencyKey),
      });
      const out: Record<string, unknown> = { usage: present.usage(result.usage) };
      if (result.transaction !== undefined) out["transaction"] = present.transaction(result.transaction);
      if (result.alreadyProcessed) out["alreadyProcessed"] = true;
      return out;
    },
  );

  r.add(
    {
      method: "GET",
      url: "/v1/usage",
      auth: "app",
      tag: "Usage",
      summary: "List usage records, newest first",
      query: strictObject({
        ...PageQuery,
        ...AccountRefFields,
        context: Type.Optional(UsageContext),
        modelId: Type.Optional(ShortString),
        from: Type.Optional(Timestamp),
        to: Type.Optional(Timestamp),
      }),
      responses: { 200: Page(UsageRecord) },
    },
    async ({ scope, query }) => {
      const limit = query.limit ?? 20;
      const rows = await usage.listUsage(scope, {
        limit: limit + 1,
        ...(await accountFilter(scope, query)),
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
      url: "/v1/usage/summary",
      auth: "app",
      tag: "Usage",
      summary: "Totals grouped by model, day (UTC), usage type or account",
      query: strictObject({
        ...AccountRefFields,
        context: Type.Optional(UsageContext),
        from: Type.Optional(Timestamp),
        to: Type.Optional(Timestamp),
        groupBy: Type.Optional(Type.Union([Type.Literal("model"), Type.Literal("day"), Type.Literal("usageType"), Type.Literal("account")])),
      }),
      responses: {
        200: Type.Object({
          rows: Type.Array(
            Type.Object({ key: Type.String(), events: Type.Integer(), inputTokens: Type.Integer(), outputTokens: Type.Integer(), quantity: Type.Integer(), credits: Type.Integer() }),
          ),
        }),
      },
    },
    async ({ scope, query }) => {
      const rows = await usage.summarizeUsage(
        scope,
        {
          ...(await accountFilter(scope, query)),
          ...(query.context !== undefined ? { context: query.context as Ctx } : {}),
          ...(query.from !== undefined ? { fromMs: Date.parse(query.from) } : {}),
          ...(query.to !== undefined ? { toMs: Date.parse(query.to) } : {}),
        },
        (query.groupBy ?? "model") as "model" | "day" | "usageType" | "account",
      );
      return { rows };
    },
  );
}

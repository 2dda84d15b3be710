import { Type } from "typebox";
import type { Router } from "../router.ts";
import type { RouteDeps } from "./deps.ts";
import { ms } from "./deps.ts";
import { AccountRefFields, Amount, Description, Id, IdempotencyKey, IdParams, Metadata, Page, PageQuery, ShortString, Timestamp, Unit, strictObject } from "../schemas/common.ts";
import { Allocation, Balance, Grant, LotSource, Transaction, TransactionType } from "../schemas/models.ts";
import { page, present } from "../present.ts";
import * as credits from "../../domain/credits.ts";
import { checkAccountRef, filterAccountId } from "../../domain/accounts.ts";
import { getTransaction, listTransactions, countTransactions } from "../../store/repo/transactions.ts";
import { notFound, validationError } from "../../domain/errors.ts";
import { LIMITS } from "../../domain/limits.ts";
import type { TransactionType as TxType } from "../../store/records.ts";

/** What a `dryRun: true` deduct or reservation answers (200): what would happen, nothing done. */
export const DryRunResult = Type.Object({
  dryRun: Type.Literal(true),
  wouldSucceed: Type.Boolean(),
  amount: Type.Integer(),
  unit: Type.String(),
  allocations: Type.Array(Allocation),
  balance: Balance,
  shortfall: Type.Optional(Type.Object({ available: Type.Integer(), required: Type.Integer(), unit: Type.String() })),
});

/** The body key wins; else `usageEventId`; else the Idempotency-Key header, which then also guards the ledger forever. */
export function ledgerKey(body: { idempotencyKey?: string | undefined; usageEventId?: string | undefined }, header: string | undefined): string | undefined {
  if (body.idempotencyKey !== undefined && body.usageEventId !== undefined && body.idempotencyKey !== body.usageEventId) {
    throw validationError("/usageEventId", "usageEventId is an alias of idempotencyKey: give one, or the same value");
  }
  return body.idempotencyKey ?? body.usageEventId ?? header;
}

export function creditRoutes(r: Router, deps: RouteDeps): void {
  r.add(
    {
      method: "POST",
      url: "/v1/credits/grant",
      direct: true,
      auth: "app",
      tag: "Credits",
      summary: "Grant credits as a new lot (creates the account for an unknown externalId)",
      body: strictObject({
        ...AccountRefFields,
        amount: Amount,
        unit: Type.Optional(Unit),
        expiresAt: Type.Optional(Timestamp),
        priority: Type.Optional(Type.Integer({ minimum: LIMITS.priorityMin, maximum: LIMITS.priorityMax })),
        source: Type.Optional(LotSource),
        reference: Type.Optional(ShortString),
        description: Type.Optional(Description),
        metadata: Type.Optional(Metadata),
        idempotencyKey: Type.Optional(IdempotencyKey),
        usageEventId: Type.Optional(IdempotencyKey),
      }),
      responses: { 201: Type.Object({ transaction: Transaction, grant: Grant, balance: Balance, alreadyProcessed: Type.Boolean() }) },
    },
    async ({ scope, body, idempotencyKey }) => {
      checkAccountRef(body);
      const result = await credits.grant(scope, {
        ...body,
        unit: body.unit ?? "credits",
        expiresAtMs: ms(body.expiresAt),
        source: body.source as credits.GrantInput["source"],
        idempotencyKey: ledgerKey(body, idempotencyKey),
      });
      deps.metrics.countLedgerOperation("grant", result.alreadyProcessed ? "replayed" : "ok");
      return { transaction: present.transaction(result.transaction), grant: present.grant(result.grant), balance: present.balance(result.balance), alreadyProcessed: result.alreadyProcessed };
    },
  );

  r.add(
    {
      method: "POST",
      url: "/v1/credits/deduct",
      direct: true,
      auth: "app",
      tag: "Credits",
      summary: "Spend credits, burning lots in burn order (402 when short)",
      body: strictObject({
        ...AccountRefFields,
        amount: Type.Optional(Amount),
        operation: Type.Optional(ShortString),
        unit: Type.Optional(Unit),
        idempotencyKey: Type.Optional(IdempotencyKey),
        usageEventId: Type.Optional(IdempotencyKey),
        description: Type.Optional(Description),
        metadata: Type.Optional(Metadata),
        dryRun: Type.Optional(Type.Boolean()),
      }),
      responses: { 201: Type.Union([Type.Object({ transaction: Transaction, balance: Balance, alreadyProcessed: Type.Boolean() }), DryRunResult]) },
    },
    async ({ scope, body, idempotencyKey, status }) => {
      checkAccountRef(body);
      const result = await credits.deduct(scope, { ...body, idempotencyKey: ledgerKey(body, idempotencyKey) });
      if ("dryRun" in result) {
        status(200);
        return { ...result, allocations: result.allocations.map(present.allocation), balance: present.balance(result.balance) };
      }
      deps.metrics.countLedgerOperation("deduct", result.alreadyProcessed ? "replayed" : "ok");
      return { transaction: present.transaction(result.transaction), balance: present.balance(result.balance), alreadyProcessed: result.alreadyProcessed };
    },
  );

  r.add(
    {
      method: "POST",
      url: "/v1/credits/refund",
      auth: "app",
      tag: "Credits",
      summary: "Refund (part of) a spend back to the lots that paid",
      body: strictObject({
        transactionId: Id,
        amount: Type.Optional(Amount),
        reason: Type.Optional(Description),
        idempotencyKey: Type.Optional(IdempotencyKey),
        usageEventId: Type.Optional(IdempotencyKey),
      }),
      responses: { 201: Type.Object({ transaction: Transaction, balance: Balance, alreadyProcessed: Type.Boolean() }) },
    },
    async ({ scope, body, idempotencyKey }) => {
      const result = await credits.refund(scope, { ...body, idempotencyKey: ledgerKey(body, idempotencyKey) });
      deps.metrics.countLedgerOperation("refund", result.alreadyProcessed ? "replayed" : "ok");
      return { transaction: present.transaction(result.transaction), balance: present.balance(result.balance), alreadyProcessed: result.alreadyProcessed };
    },
  );

  r.add(
    {
      method: "POST",
      url: "/v1/transactions",
      auth: "app",
      tag: "Transactions",
      summary: "Manual adjustment: a credit adds a lot, a debit spends (never overdraws)",
      body: strictObject({
        ...AccountRefFields,
        type: Type.Union([Type.Literal("credit"), Type.Literal("debit")]),
        amount: Amount,
        unit: Type.Optional(Unit),
        description: Type.Optional(Description),
        metadata: Type.Optional(Metadata),
        idempotencyKey: Type.Optional(IdempotencyKey),
        usageEventId: Type.Optional(IdempotencyKey),
      }),
      responses: { 201: Type.Object({ transaction: Transaction, balance: Balance, alreadyProcessed: Type.Boolean() }) },
    },
    async ({ scope, body, idempotencyKey }) => {
      checkAccountRef(body);
      const key = ledgerKey(body, idempotencyKey);
      if (body.type === "credit") {
        const result = await credits.grant(scope, { ...body, unit: body.unit ?? "credits", source: "manual", idempotencyKey: key }, "credit");
        return { transaction: present.transaction(result.transaction), balance: present.balance(result.balance), alreadyProcessed: result.alreadyProcessed };
      }
      const result = await credits.deduct(scope, { ...body, idempotencyKey: key }, "debit");
      if ("dryRun" in result) throw new Error("unreachable: debits have no dry run");
      return { transaction: present.transaction(result.transaction), balance: present.balance(result.balance), alreadyProcessed: result.alreadyProcessed };
    },
  );

  r.add(
    {
      method: "GET",
      url: "/v1/transactions",
      auth: "app",
      tag: "Transactions",
      summary: "List transactions, newest first (cursor or offset pagination)",
      query: strictObject({
        ...PageQuery,
        ...AccountRefFields,
        unit: Type.Optional(Unit),
        type: Type.Optional(TransactionType),
        from: Type.Optional(Timestamp),
        to: Type.Optional(Timestamp),
        offset: Type.Optional(Type.Integer({ minimum: 0, maximum: LIMITS.offsetMax })),
      }),
      responses: {
        200: Type.Object({
          items: Type.Array(Transaction),
          nextCursor: Type.Union([Type.String(), Type.Null()]),
          hasMore: Type.Boolean(),
          pagination: Type.Optional(Type.Object({ limit: Type.Integer(), offset: Type.Integer(), total: Type.Integer() })),
        }),
      },
    },
    async ({ scope, query }) => {
      if (query.cursor !== undefined && query.offset !== undefined) throw validationError("/offset", "use cursor or offset, not both");
      const accountId = await filterAccountId(scope, query);
      const limit = query.limit ?? LIMITS.pageLimitDefault;
      const filter = {
        ...(accountId !== undefined ? { accountId } : {}),
        ...(query.unit !== undefined ? { unit: query.unit } : {}),
        ...(query.type !== undefined ? { type: query.type as TxType } : {}),
        ...(query.from !== undefined ? { fromMs: Date.parse(query.from) } : {}),
        ...(query.to !== undefined ? { toMs: Date.parse(query.to) } : {}),
      };
      const rows = await scope.db.read((q) =>
        listTransactions(q, scope.appId, {
          ...filter,
          limit: limit + 1,
          ...(query.cursor !== undefined ? { beforeId: query.cursor } : {}),
          ...(query.offset !== undefined ? { offset: query.offset } : {}),
        }),
      );
      const result: Record<string, unknown> = page(rows, limit, present.transaction);
      if (query.offset !== undefined) {
        const total = await scope.db.read((q) => countTransactions(q, scope.appId, { ...filter, limit }));
        result["pagination"] = { limit, offset: query.offset, total };
      }
      return result;
    },
  );

  r.add(
    { method: "GET", url: "/v1/transactions/{id}", auth: "app", tag: "Transactions", summary: "Get a transaction", params: IdParams("id"), responses: { 200: Transaction } },
    async ({ scope, params }) => {
      const t = await scope.db.read((q) => getTransaction(q, scope.appId, params.id));
      if (t === undefined) throw notFound("TRANSACTION_NOT_FOUND", "transaction", params.id);
      return present.transaction(t);
    },
  );
}

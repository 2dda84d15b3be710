import type { Metadata, TransactionRecord, UsageContext, UsageRecordRow, UsageType } from "../store/records.ts";
import * as repo from "../store/repo/usage.ts";
import { getModelPrice } from "../store/repo/prices.ts";
import { lockBalance } from "../store/repo/balances.ts";
import { findTransactionByKey, getTransaction } from "../store/repo/transactions.ts";
import { notFound, TallyError, validationError } from "./errors.ts";
import { accountLane, inTransaction, type Scope } from "./context.ts";
import { requireAccount, type AccountRef } from "./accounts.ts";
import { UnitLedger } from "./unit-ledger.ts";
import { LIMITS } from "./limits.ts";
import { newId } from "./ids.ts";
import type { PriceRecord } from "../store/records.ts";

export interface RecordUsageInput extends AccountRef {
  transactionId?: string | undefined;
  context?: UsageContext | undefined;
  modelId: string;
  usageType: UsageType;
  inputTokens?: number | undefined;
  outputTokens?: number | undefined;
  quantity?: number | undefined;
  charge?: boolean | undefined;
  unit?: string | undefined;
  idempotencyKey?: string | undefined;
  description?: string | undefined;
  metadata?: Metadata | undefined;
}

export interface RecordUsageResult {
  usage: UsageRecordRow;
  transaction?: TransactionRecord | undefined;
  alreadyProcessed: boolean;
}

/**
 * Cost of one model call: ceil(input × inputPerMillion / 10^6 + output × outputPerMillion / 10^6)
 * + perRequest. Computed in BigInt so large token counts stay exact.
 */
export function modelCost(price: PriceRecord, inputTokens: number, outputTokens: number): number {
  const perMillion =
    BigInt(inputTokens) * BigInt(price.inputPerMillion ?? 0) + BigInt(outputTokens) * BigInt(price.outputPerMillion ?? 0);
  const tokenCost = (perMillion + 999_999n) / 1_000_000n;
  const total = tokenCost + BigInt(price.perRequest ?? 0);
  if (total > BigInt(LIMITS.amountMax)) throw validationError("/inputTokens", "the computed cost exceeds the largest amount");
  return Number(total);
}

/**
 * Records a model call. With `charge: true` its cost is deducted in the same database
 * transaction: 402 if the account is short, and then no usage is recorded either.
 */
export async function recordUsage(scope: Scope, input: RecordUsageInput): Promise<RecordUsageResult> {
  return inTransaction(scope, async (tx, nowMs) => {
    const account = await requireAccount(tx, scope.appId, input);
    if (input.idempotencyKey !== undefined) {
      // A charge locks the account before looking its key up (see awaitFirstAttempt in
      // credits.ts): a retry racing its first attempt waits for it and replays it, rather than
      // answering 402 for a charge that happened. The unit is the model price's.
      if (input.charge === true) {
        const price = await getModelPrice(tx, scope.appId, input.modelId);
        if (price !== undefined) await lockBalance(tx, scope.appId, account.id, price.unit, nowMs);
      }
      const existing = await repo.findUsageByKey(tx, scope.appId, input.idempotencyKey);
      if (existing !== undefined) {
        if (existing.accountId !== account.id || existing.modelId !== input.modelId) {
          throw new TallyError("IDEMPOTENCY_KEY_REUSED", `Idempotency key ${JSON.stringify(input.idempotencyKey)} was already used for usage ${existing.id}`, {
            usageId: existing.id,
          });
        }
        const transaction = existing.transactionId === null ? undefined : await getTransaction(tx, scope.appId, existing.transactionId);
        return { usage: existing, transaction, alreadyProcessed: true };
      }
    }
    if (input.transactionId !== undefined) {
      const linked = await getTransaction(tx, scope.appId, input.transactionId);
      if (linked === undefined) throw notFound("TRANSACTION_NOT_FOUND", "transaction", input.transactionId);
      if (linked.accountId !== account.id) throw validationError("/transactionId", "belongs to another account");
    }
    const inputTokens = input.inputTokens ?? 0;
    const outputTokens = input.outputTokens ?? 0;
    let credits = 0;
    let unit = input.unit ?? "credits";
    let transaction: TransactionRecord | undefined;
    if (input.charge === true) {
      if (input.transactionId !== undefined) throw validationError("/charge", "charge and transactionId exclude each other: the charge makes its own transaction");
      const price = await getModelPrice(tx, scope.appId, input.modelId);
      if (price === undefined || price.modelId === null) throw new TallyError("PRICE_NOT_FOUND", `No price is set for model ${JSON.stringify(input.modelId)}`);
      if (input.unit !== undefined && input.unit !== price.unit) throw validationError("/unit", `model ${input.modelId} is priced in ${price.unit}`);
      unit = price.unit;
      credits = modelCost(price, inputTokens, outputTokens);
      if (credits > 0) {
        if (input.idempotencyKey !== undefined && (await findTransactionByKey(tx, scope.appId, input.idempotencyKey)) !== undefined) {
          throw new TallyError("IDEMPOTENCY_KEY_REUSED", `Idempotency key ${JSON.stringify(input.idempotencyKey)} was already used for a transaction`);
        }
        const ledger = await UnitLedger.open({ tx, appId: scope.appId, nowMs }, account.id, unit);
        const allocations = await ledger.burn(credits);
        transaction = await ledger.record({
          type: "deduct",
          amount: -credits,
          allocations,
          idempotencyKey: input.idempotencyKey ?? null,
          operation: `usage.${input.usageType}`,
          description: input.description ?? `${input.modelId}: ${inputTokens} in, ${outputTokens} out`,
          metadata: { modelId: input.modelId },
        });
        await ledger.finish();
      }
    }
    const usage: UsageRecordRow = {
      id: newId("usage", nowMs),
      accountId: account.id,
      transactionId: transaction?.id ?? input.transactionId ?? null,
      context: input.context ?? "customer",
      modelId: input.modelId,
      usageType: input.usageType,
      inputTokens,
      outputTokens,
      quantity: input.quantity ?? 0,
      credits,
      unit,
      idempotencyKey: input.idempotencyKey ?? null,
      description: input.description ?? null,
      metadata: input.metadata ?? {},
      createdAtMs: nowMs,
    };
    await repo.insertUsage(tx, scope.appId, usage);
    return { usage, transaction, alreadyProcessed: false };
  }, { lane: accountLane(scope.appId, input) });
}

export async function listUsage(scope: Scope, filter: repo.UsageFilter): Promise<UsageRecordRow[]> {
  return scope.db.read((q) => repo.listUsage(q, scope.appId, filter));
}

export async function summarizeUsage(
  scope: Scope,
  filter: Omit<repo.UsageFilter, "limit" | "beforeId">,
  groupBy: repo.UsageGroupBy,
): Promise<repo.UsageSummaryRow[]> {
  return scope.db.read((q) => repo.summarizeUsage(q, scope.appId, filter, groupBy, 10_000));
}

import type { PriceRecord, UnitRecord } from "../store/records.ts";
import * as repo from "../store/repo/prices.ts";
import { inTransaction, type Scope } from "./context.ts";
import { newId } from "./ids.ts";

export type PriceInput =
  | { unit: string; amount: number }
  | { unit: string; modelId: string; inputPerMillion: number; outputPerMillion: number; perRequest?: number | undefined };

/** Creates or replaces the price under `key` (an operation name, or any name for a model price). */
export async function setPrice(scope: Scope, key: string, input: PriceInput): Promise<PriceRecord> {
  return inTransaction(scope, async (tx, nowMs) => {
    const existing = await repo.getPrice(tx, scope.appId, key);
    const isModel = "modelId" in input;
    const price: PriceRecord = {
      key,
      id: existing?.id ?? newId("price", nowMs),
      unit: input.unit,
      amount: isModel ? null : input.amount,
      modelId: isModel ? input.modelId : null,
      inputPerMillion: isModel ? input.inputPerMillion : null,
      outputPerMillion: isModel ? input.outputPerMillion : null,
      perRequest: isModel ? (input.perRequest ?? 0) : null,
      createdAtMs: existing?.createdAtMs ?? nowMs,
      updatedAtMs: nowMs,
    };
    await repo.upsertPrice(tx, scope.appId, price);
    return price;
  });
}

export async function listPrices(scope: Scope, afterKey: string | undefined, limit: number): Promise<PriceRecord[]> {
  return scope.db.read((q) => repo.listPrices(q, scope.appId, afterKey, limit));
}

export async function setUnit(scope: Scope, unit: string, input: { name?: string | undefined; decimals?: number | undefined }): Promise<UnitRecord> {
  return inTransaction(scope, async (tx, nowMs) => {
    const existing = await repo.getUnit(tx, scope.appId, unit);
    const record: UnitRecord = {
      unit,
      name: input.name ?? existing?.name ?? null,
      decimals: input.decimals ?? existing?.decimals ?? 0,
      createdAtMs: existing?.createdAtMs ?? nowMs,
      updatedAtMs: nowMs,
    };
    await repo.upsertUnit(tx, scope.appId, record);
    return record;
  });
}

export async function listUnits(scope: Scope): Promise<UnitRecord[]> {
  return scope.db.read((q) => repo.listUnits(q, scope.appId));
}

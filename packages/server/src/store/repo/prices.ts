import type { Sql } from "../sql.ts";
import type { PriceRecord, UnitRecord } from "../records.ts";

interface PriceRow {
  price_key: string;
  price_id: string;
  unit: string;
  amount: number | null;
  model_id: string | null;
  input_per_million: number | null;
  output_per_million: number | null;
  per_request: number | null;
  created_at: number;
  updated_at: number;
}

const COLUMNS = "price_key, price_id, unit, amount, model_id, input_per_million, output_per_million, per_request, created_at, updated_at";
const n = (v: number | null): number | null => (v === null ? null : Number(v));

const toPrice = (r: PriceRow): PriceRecord => ({
  key: r.price_key,
  id: r.price_id,
  unit: r.unit,
  amount: n(r.amount),
  modelId: r.model_id,
  inputPerMillion: n(r.input_per_million),
  outputPerMillion: n(r.output_per_million),
  perRequest: n(r.per_request),
  createdAtMs: Number(r.created_at),
  updatedAtMs: Number(r.updated_at),
});

export async function getPrice(q: Sql, appId: string, key: string): Promise<PriceRecord | undefined> {
  const row = await q.get<PriceRow>(`SELECT ${COLUMNS} FROM prices WHERE app_id = ? AND price_key = ?`, [appId, key]);
  return row === undefined ? undefined : toPrice(row);
}

/** The most recently updated price for a model. */
export async function getModelPrice(q: Sql, appId: string, modelId: string): Promise<PriceRecord | undefined> {
  const row = await q.get<PriceRow>(
    `SELECT ${COLUMNS} FROM prices WHERE app_id = ? AND model_id = ? ORDER BY updated_at DESC, price_key LIMIT 1`,
    [appId, modelId],
  );
  return row === undefined ? undefined : toPrice(row);
}

export async function upsertPrice(tx: Sql, appId: string, p: PriceRecord): Promise<void> {
  await tx.run(
    `INSERT INTO prices (app_id, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (app_id, price_key) DO UPDATE SET unit = excluded.unit, amount = excluded.amount, model_id = excluded.model_id,
       input_per_million = excluded.input_per_million, output_per_million = excluded.output_per_million,
       per_request = excluded.per_request, updated_at = excluded.updated_at`,
    [appId, p.key, p.id, p.unit, p.amount, p.modelId, p.inputPerMillion, p.outputPerMillion, p.perRequest, p.createdAtMs, p.updatedAtMs],
  );
}

export async function listPrices(q: Sql, appId: string, afterKey: string | undefined, limit: number): Promise<PriceRecord[]> {
  const rows = await q.all<PriceRow>(
    `SELECT ${COLUMNS} FROM prices WHERE app_id = ? AND price_key > ? ORDER BY price_key LIMIT ?`,
    [appId, afterKey ?? "", limit],
  );
  return rows.map(toPrice);
}

interface UnitRow {
  unit: string;
  name: string | null;
  decimals: number;
  created_at: number;
  updated_at: number;
}

export async function upsertUnit(tx: Sql, appId: string, u: UnitRecord): Promise<void> {
  await tx.run(
    `INSERT INTO units (app_id, unit, name, decimals, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (app_id, unit) DO UPDATE SET name = excluded.name, decimals = excluded.decimals, updated_at = excluded.updated_at`,
    [appId, u.unit, u.name, u.decimals, u.createdAtMs, u.updatedAtMs],
  );
}

export async function getUnit(q: Sql, appId: string, unit: string): Promise<UnitRecord | undefined> {
  const row = await q.get<UnitRow>("SELECT unit, name, decimals, created_at, updated_at FROM units WHERE app_id = ? AND unit = ?", [appId, unit]);
  return row === undefined
    ? undefined
    : { unit: row.unit, name: row.name, decimals: Number(row.decimals), createdAtMs: Number(row.created_at), updatedAtMs: Number(row.updated_at) };
}

export async function listUnits(q: Sql, appId: string): Promise<UnitRecord[]> {
  const rows = await q.all<UnitRow>("SELECT unit, name, decimals, created_at, updated_at FROM units WHERE app_id = ? ORDER BY unit LIMIT 1000", [appId]);
  return rows.map((row) => ({ unit: row.unit, name: row.name, decimals: Number(row.decimals), createdAtMs: Number(row.created_at), updatedAtMs: Number(row.updated_at) }));
}

import type { Sql, SqlValue } from "../sql.ts";
import type { Metadata, UsageContext, UsageRecordRow, UsageType } from "../records.ts";
import { parseJson } from "./json.ts";

interface UsageRow {
  use_id: string;
  account_id: string;
  transaction_id: string | null;
  context: UsageContext;
  model_id: string;
  usage_type: UsageType;
  input_tokens: number;
  output_tokens: number;
  quantity: number;
  credits: number;
  unit: string;
  idempotency_key: string | null;
  description: string | null;
  metadata: string;
  created_at: number;
}

const COLUMNS =
  "use_id, account_id, transaction_id, context, model_id, usage_type, input_tokens, output_tokens, quantity, credits, unit, idempotency_key, description, metadata, created_at";

const toUsage = (r: UsageRow): UsageRecordRow => ({
  id: r.use_id,
  accountId: r.account_id,
  transactionId: r.transaction_id,
  context: r.context,
  modelId: r.model_id,
  usageType: r.usage_type,
  inputTokens: Number(r.input_tokens),
  outputTokens: Number(r.output_tokens),
  quantity: Number(r.quantity),
  credits: Number(r.credits),
  unit: r.unit,
  idempotencyKey: r.idempotency_key,
  description: r.description,
  metadata: parseJson<Metadata>(r.metadata, {}),
  createdAtMs: Number(r.created_at),
});

export async function insertUsage(tx: Sql, appId: string, u: UsageRecordRow): Promise<void> {
  await tx.run(`INSERT INTO usage_records (app_id, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [
    appId,
    u.id,
    u.accountId,
    u.transactionId,
    u.context,
    u.modelId,
    u.usageType,
    u.inputTokens,
    u.outputTokens,
    u.quantity,
    u.credits,
    u.unit,
    u.idempotencyKey,
    u.description,
    JSON.stringify(u.metadata),
    u.createdAtMs,
  ]);
}

export async function findUsageByKey(q: Sql, appId: string, key: string): Promise<UsageRecordRow | undefined> {
  const row = await q.get<UsageRow>(`SELECT ${COLUMNS} FROM usage_records WHERE app_id = ? AND idempotency_key = ?`, [appId, key]);
  return row === undefined ? undefined : toUsage(row);
}

export interface UsageFilter {
  accountId?: string;
  context?: UsageContext;
  modelId?: string;
  fromMs?: number;
  toMs?: number;
  beforeId?: string;
  limit: number;
}

function whereOf(appId: string, f: Omit<UsageFilter, "limit" | "beforeId">): { sql: string; params: SqlValue[] } {
  const where = ["app_id = ?"];
  const params: SqlValue[] = [appId];
  if (f.accountId !== undefined) {
    where.push("account_id = ?");
    params.push(f.accountId);
  }
  if (f.context !== undefined) {
    where.push("context = ?");
    params.push(f.context);
  }
  if (f.modelId !== undefined) {
    where.push("model_id = ?");
    params.push(f.modelId);
  }
  if (f.fromMs !== undefined) {
    where.push("created_at >= ?");
    params.push(f.fromMs);
  }
  if (f.toMs !== undefined) {
    where.push("created_at < ?");
    params.push(f.toMs);
  }
  return { sql: where.join(" AND "), params };
}

export async function listUsage(q: Sql, appId: string, f: UsageFilter): Promise<UsageRecordRow[]> {
  const { sql, params } = whereOf(appId, f);
  let where = sql;
  if (f.beforeId !== undefined) {
    where += " AND use_id < ?";
    params.push(f.beforeId);
  }
  params.push(f.limit);
  const rows = await q.all<UsageRow>(`SELECT ${COLUMNS} FROM usage_records WHERE ${where} ORDER BY use_id DESC LIMIT ?`, params);
  return rows.map(toUsage);
}

export type UsageGroupBy = "model" | "day" | "usageType" | "account";

export interface UsageSummaryRow {
  key: string;
  events: number;
  inputTokens: number;
  outputTokens: number;
  quantity: number;
  credits: number;
}

export async function summarizeUsage(
  q: Sql,
  appId: string,
  f: Omit<UsageFilter, "limit" | "beforeId">,
  groupBy: UsageGroupBy,
  rowsMax: number,
): Promise<UsageSummaryRow[]> {
  const { sql, params } = whereOf(appId, f);
  // Days are UTC calendar days computed from epoch milliseconds the same way on both databases.
  const keyExpr =
    groupBy === "model" ? "model_id" : groupBy === "usageType" ? "usage_type" : groupBy === "account" ? "account_id" : "(created_at / 86400000)";
  params.push(rowsMax);
  const rows = await q.all<{ k: string | number; events: number; input_tokens: number; output_tokens: number; quantity: number; credits: number }>(
    `SELECT ${keyExpr} AS k, COUNT(*) AS events, SUM(input_tokens) AS input_tokens, SUM(output_tokens) AS output_tokens,
            SUM(quantity) AS quantity, SUM(credits) AS credits
       FROM usage_records WHERE ${sql} GROUP BY ${keyExpr} ORDER BY ${keyExpr} LIMIT ?`,
    params,
  );
  return rows.map((r) => ({
    key: groupBy === "day" ? new Date(Math.floor(Number(r.k)) * 86_400_000).toISOString().slice(0, 10) : String(r.k),
    events: Number(r.events),
    inputTokens: Number(r.input_tokens ?? 0),
    outputTokens: Number(r.output_tokens ?? 0),
    quantity: Number(r.quantity ?? 0),
    credits: Number(r.credits ?? 0),
  }));
}

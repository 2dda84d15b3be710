import type { Sql } from "../sql.ts";
import type { AccountRecord, Metadata } from "../records.ts";
import { parseJson } from "./json.ts";

interface AccountRow {
  account_id: string;
  external_id: string | null;
  name: string | null;
  email: string | null;
  metadata: string;
  created_at: number;
  updated_at: number;
}

const COLUMNS = "account_id, external_id, name, email, metadata, created_at, updated_at";

const toAccount = (r: AccountRow): AccountRecord => ({
  id: r.account_id,
  externalId: r.external_id,
  name: r.name,
  email: r.email,
  metadata: parseJson<Metadata>(r.metadata, {}),
  createdAtMs: r.created_at,
  updatedAtMs: r.updated_at,
});

/** Inserts unless the external id is taken; returns whether the row was inserted. */
export async function insertAccount(tx: Sql, appId: string, a: AccountRecord): Promise<boolean> {
  const { changes } = await tx.run(
    `INSERT INTO accounts (app_id, ${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    [appId, a.id, a.externalId, a.name, a.email, JSON.stringify(a.metadata), a.createdAtMs, a.updatedAtMs],
  );
  return changes === 1;
}

export async function getAccount(q: Sql, appId: string, accountId: string): Promise<AccountRecord | undefined> {
  const row = await q.get<AccountRow>(`SELECT ${COLUMNS} FROM accounts WHERE app_id = ? AND account_id = ?`, [appId, accountId]);
  return row === undefined ? undefined : toAccount(row);
}

export async function getAccountByExternalId(q: Sql, appId: string, externalId: string): Promise<AccountRecord | undefined> {
  const row = await q.get<AccountRow>(`SELECT ${COLUMNS} FROM accounts WHERE app_id = ? AND external_id = ?`, [appId, externalId]);
  return row === undefined ? undefined : toAccount(row);
}

export async function updateAccount(tx: Sql, appId: string, a: AccountRecord): Promise<void> {
  await tx.run("UPDATE accounts SET name = ?, email = ?, metadata = ?, updated_at = ? WHERE app_id = ? AND account_id = ?", [
    a.name,
    a.email,
    JSON.stringify(a.metadata),
    a.updatedAtMs,
    appId,
    a.id,
  ]);
}

export interface AccountFilter {
  externalId?: string;
  email?: string;
  /** Matches id, external id, email or name by prefix (the dashboard's search box). */
  search?: string;
  /** Exclusive: only ids before this one (newest first). */
  beforeId?: string;
  limit: number;
}

export async function listAccounts(q: Sql, appId: string, f: AccountFilter): Promise<AccountRecord[]> {
  const where = ["app_id = ?"];
  const params: Array<string | number> = [appId];
  if (f.externalId !== undefined) {
    where.push("external_id = ?");
    params.push(f.externalId);
  }
  if (f.email !== undefined) {
    where.push("email = ?");
    params.push(f.email);
  }
  if (f.search !== undefined) {
    where.push("(account_id = ? OR external_id LIKE ? OR email LIKE ? OR name LIKE ?)");
    const like = f.search.replace(/[\\%_]/g, (c) => "\\" + c) + "%";
    params.push(f.search, like, like, like);
    // ESCAPE keeps user-supplied % and _ literal.
    where[where.length - 1] = "(account_id = ? OR external_id LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\' OR name LIKE ? ESCAPE '\\')";
  }
  if (f.beforeId !== undefined) {
    where.push("account_id < ?");
    params.push(f.beforeId);
  }
  params.push(f.limit);
  const rows = await q.all<AccountRow>(
    `SELECT ${COLUMNS} FROM accounts WHERE ${where.join(" AND ")} ORDER BY account_id DESC LIMIT ?`,
    params,
  );
  return rows.map(toAccount);
}

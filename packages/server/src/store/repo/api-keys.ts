import type { Sql } from "../sql.ts";
import type { ApiKeyRecord, KeyScope } from "../records.ts";
import { API_KEYS_CHANNEL } from "../../auth/key-cache.ts";

interface KeyRow {
  app_id: string;
  key_id: string;
  name: string;
  type: "secret" | "hmac";
  scopes: string;
  secret_hash: string;
  secret_sealed: string | null;
  hint: string;
  created_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
}

const toKey = (r: KeyRow): ApiKeyRecord => ({
  appId: r.app_id,
  id: r.key_id,
  name: r.name,
  type: r.type,
  scopes: r.scopes.split(",").filter((s) => s.length > 0) as KeyScope[],
  secretHash: r.secret_hash,
  secretSealed: r.secret_sealed,
  hint: r.hint,
  createdAtMs: r.created_at,
  revokedAtMs: r.revoked_at,
  lastUsedAtMs: r.last_used_at,
});

export async function insertApiKey(tx: Sql, key: ApiKeyRecord): Promise<void> {
  await tx.run(
    `INSERT INTO api_keys (app_id, key_id, name, type, scopes, secret_hash, secret_sealed, hint, created_at, revoked_at, last_used_at)
     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    [key.appId, key.id, key.name, key.type, key.scopes.join(","), key.secretHash, key.secretSealed, key.hint, key.createdAtMs, key.revokedAtMs, key.lastUsedAtMs],
  );
}

export async function findApiKeyByHash(q: Sql, appId: string, secretHash: string): Promise<ApiKeyRecord | undefined> {
  const row = await q.get<KeyRow>("SELECT * FROM api_keys WHERE app_id = ? AND secret_hash = ?", [appId, secretHash]);
  return row === undefined ? undefined : toKey(row);
}

export async function getApiKey(q: Sql, appId: string, keyId: string): Promise<ApiKeyRecord | undefined> {
  const row = await q.get<KeyRow>("SELECT * FROM api_keys WHERE app_id = ? AND key_id = ?", [appId, keyId]);
  return row === undefined ? undefined : toKey(row);
}

/** An application's keys, newest first: `limit` of them older than `beforeId`. */
export async function listApiKeys(q: Sql, appId: string, page: { beforeId?: string | undefined; limit: number }): Promise<ApiKeyRecord[]> {
  const rows =
    page.beforeId === undefined
      ? await q.all<KeyRow>("SELECT * FROM api_keys WHERE app_id = ? ORDER BY key_id DESC LIMIT ?", [appId, page.limit])
      : await q.all<KeyRow>("SELECT * FROM api_keys WHERE app_id = ? AND key_id < ? ORDER BY key_id DESC LIMIT ?", [appId, page.beforeId, page.limit]);
  return rows.map(toKey);
}

/** Revokes a key; on PostgreSQL also tells every server process to drop its cached keys (on commit). */
export async function revokeApiKey(tx: Sql, appId: string, keyId: string, nowMs: number): Promise<void> {
  await tx.run("UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?) WHERE app_id = ? AND key_id = ?", [nowMs, appId, keyId]);
  if (tx.dialect.name === "postgres") await tx.get("SELECT pg_notify(?, ?) AS notified", [API_KEYS_CHANNEL, appId]);
}

/** An HMAC key named by the id in a signed request's header (key ids are globally unique ULIDs). */
export async function findApiKeyById(q: Sql, keyId: string): Promise<ApiKeyRecord | undefined> {
  const row = await q.get<KeyRow>("SELECT * FROM api_keys WHERE key_id = ?", [keyId]);
  return row === undefined ? undefined : toKey(row);
}

export async function touchApiKey(tx: Sql, appId: string, keyId: string, nowMs: number): Promise<void> {
  await tx.run("UPDATE api_keys SET last_used_at = ? WHERE app_id = ? AND key_id = ?", [nowMs, appId, keyId]);
}

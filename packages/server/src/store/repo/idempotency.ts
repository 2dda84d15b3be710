import type { Sql } from "../sql.ts";

export interface IdempotencyRow {
  fingerprint: string;
  state: "running" | "done";
  statusCode: number | null;
  responseBody: string | null;
  createdAtMs: number;
  lockedUntilMs: number;
}

interface Row {
  fingerprint: string;
  state: "running" | "done";
  status_code: number | null;
  response_body: string | null;
  created_at: number;
  locked_until: number;
}

/** Claims a key for a new request; false if someone holds or held it. */
export async function claimKey(tx: Sql, appId: string, key: string, fingerprint: string, nowMs: number, lockedUntilMs: number): Promise<boolean> {
  const { changes } = await tx.run(
    `INSERT INTO idempotency_requests (app_id, idem_key, fingerprint, state, status_code, response_body, created_at, locked_until)
     VALUES (?, ?, ?, 'running', NULL, NULL, ?, ?) ON CONFLICT DO NOTHING`,
    [appId, key, fingerprint, nowMs, lockedUntilMs],
  );
  return changes === 1;
}

export async function getKey(q: Sql, appId: string, key: string): Promise<IdempotencyRow | undefined> {
  const r = await q.get<Row>(
    "SELECT fingerprint, state, status_code, response_body, created_at, locked_until FROM idempotency_requests WHERE app_id = ? AND idem_key = ?",
    [appId, key],
  );
  return r === undefined
    ? undefined
    : {
        fingerprint: r.fingerprint,
        state: r.state,
        statusCode: r.status_code === null ? null : Number(r.status_code),
        responseBody: r.response_body,
        createdAtMs: Number(r.created_at),
        lockedUntilMs: Number(r.locked_until),
      };
}

/**
 * Takes over a key whose record is stale (older than the window, or a lock left by a crashed
 * process). Compare-and-set on the old values, so only one taker wins.
 */
export async function takeOver(
  tx: Sql,
  appId: string,
  key: string,
  old: IdempotencyRow,
  fingerprint: string,
  nowMs: number,
  lockedUntilMs: number,
): Promise<boolean> {
  const { changes } = await tx.run(
    `UPDATE idempotency_requests SET fingerprint = ?, state = 'running', status_code = NULL, response_body = NULL, created_at = ?, locked_until = ?
     WHERE app_id = ? AND idem_key = ? AND created_at = ? AND locked_until = ?`,
    [fingerprint, nowMs, lockedUntilMs, appId, key, old.createdAtMs, old.lockedUntilMs],
  );
  return changes === 1;
}

export async function completeKey(tx: Sql, appId: string, key: string, statusCode: number, body: string): Promise<void> {
  await tx.run("UPDATE idempotency_requests SET state = 'done', status_code = ?, response_body = ? WHERE app_id = ? AND idem_key = ?", [
    statusCode,
    body,
    appId,
    key,
  ]);
}

export async function releaseKey(tx: Sql, appId: string, key: string): Promise<void> {
  await tx.run("DELETE FROM idempotency_requests WHERE app_id = ? AND idem_key = ? AND state = 'running'", [appId, key]);
}

export async function purgeExpiredKeys(tx: Sql, beforeMs: number, limit: number): Promise<number> {
  const { changes } = await tx.run(
    `DELETE FROM idempotency_requests WHERE (app_id, idem_key) IN (
       SELECT app_id, idem_key FROM idempotency_requests WHERE created_at < ? LIMIT ?)`,
    [beforeMs, limit],
  );
  return changes;
}

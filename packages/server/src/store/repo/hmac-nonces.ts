import type { Sql } from "../sql.ts";

/**
 * Records a nonce of a signed request. Returns false when it was already recorded for this key
 * (a replay). The primary key makes the check atomic across every process sharing the database.
 */
export async function recordNonce(tx: Sql, appId: string, keyId: string, nonce: string, expiresAtMs: number): Promise<boolean> {
  const { changes } = await tx.run(
    "INSERT INTO hmac_nonces (app_id, key_id, nonce, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
    [appId, keyId, nonce, expiresAtMs],
  );
  return changes === 1;
}

/** Forgets nonces whose timestamp is outside the acceptance window: a replay of them is stale anyway. */
export async function deleteExpiredNonces(tx: Sql, nowMs: number): Promise<number> {
  return (await tx.run("DELETE FROM hmac_nonces WHERE expires_at < ?", [nowMs])).changes;
}

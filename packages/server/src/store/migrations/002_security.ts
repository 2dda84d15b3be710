/**
 * Security state shared by every server process:
 *  - `hmac_nonces`: nonces of signed requests seen within the replay window (a replay is an
 *    insert that conflicts), deleted once their timestamp can no longer be accepted;
 *  - `rate_limit_windows`: request counters per key and fixed window (PostgreSQL deployments;
 *    a single SQLite process counts in memory);
 *  - an index to find an HMAC key by the id in its `Authorization` header (key ids are ULIDs,
 *    unique on their own, so the lookup needs no application id).
 */
export const up = `
CREATE TABLE hmac_nonces (
  app_id TEXT NOT NULL,
  key_id TEXT NOT NULL,
  nonce TEXT NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (app_id, key_id, nonce)
);
CREATE INDEX hmac_nonces_expiry ON hmac_nonces (expires_at);

CREATE TABLE rate_limit_windows (
  bucket TEXT NOT NULL,
  window_start BIGINT NOT NULL,
  count BIGINT NOT NULL,
  PRIMARY KEY (bucket, window_start)
);
CREATE INDEX rate_limit_windows_start ON rate_limit_windows (window_start);

CREATE INDEX api_keys_key_id ON api_keys (key_id);
`;

/**
 * Live lots indexed by expiry. The balance's due time and `expiringNext` ask for the earliest
 * expiry among an account's live lots; with only the (…, priority) index SQLite chose the
 * all-lots index and visited every lot the account ever had, so the cost grew with history.
 * This index answers both (and the spendable-lots scan) from live lots only.
 */
export const up = `
DROP INDEX IF EXISTS lots_live;
CREATE INDEX lots_live_expiry ON lots (app_id, account_id, unit, expires_at) WHERE remaining > 0;
`;

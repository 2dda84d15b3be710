/**
 * Live lots are indexed by a flag that changes only when a lot runs out or comes back, instead
 * of by `remaining > 0`. A database must rewrite an index entry whenever a column its predicate
 * reads is written, and a deduct writes `remaining` every time: with the flag, a spend that leaves
 * its lot with credits (nearly every spend) updates the lot's row and no index at all (SQLite
 * writes one page fewer per deduct; PostgreSQL can update the row in place, HOT).
 * Invariant, checked by `tally verify`: live = 1 exactly when remaining > 0.
 */
export const up = `
ALTER TABLE lots ADD COLUMN live INTEGER NOT NULL DEFAULT 0;
UPDATE lots SET live = 1 WHERE remaining > 0;
DROP INDEX IF EXISTS lots_live_expiry;
CREATE INDEX lots_live ON lots (app_id, account_id, unit, expires_at) WHERE live = 1;
`;

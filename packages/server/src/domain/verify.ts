import type { Database } from "../store/sql.ts";
import { auditBalances, brokenLots } from "../store/repo/audit.ts";

export interface VerifyReport {
  ok: boolean;
  balancesChecked: number;
  problems: string[];
}

/**
 * Recomputes every balance from the ledger and checks the invariants:
 *  - balance = Σ transaction amounts = Σ lot credits (remaining + held);
 *  - reserved = Σ held in lots = Σ holds of held reservations;
 *  - available = balance − reserved ≥ 0;
 *  - every lot's parts are non-negative and add up to its amount, and it is flagged live
 *    exactly when it has unheld credits left;
 *  - the balance row's next due time is no later than the first thing that falls due (a live
 *    lot's or a held reservation's expiry): else opening the account would not settle it, and
 *    credits past their expiry would still be spendable. It may be earlier (a spend that used up
 *    the soonest-expiring lot leaves it be); settling then finds nothing and works it out again.
 */
export async function verifyLedger(db: Database): Promise<VerifyReport> {
  const problems: string[] = [];
  // A read, not a transaction. The balance audit is one statement, so it sees one snapshot on
  // either database, and the lot check looks at each lot on its own. A read takes no write lock,
  // so verifying a live database does not stall its writes (on SQLite a transaction would hold
  // the write lock for the whole scan, and servers' writes would time out behind it), and its
  // GROUP BY sorts may spill to temporary files (the writer connection sorts in memory).
  const { audits, lots } = await db.read(async (q) => ({ audits: await auditBalances(q), lots: await brokenLots(q) }));
  for (const a of audits) {
    const where = `${a.appId} ${a.accountId} ${a.unit}`;
    if (a.balance !== a.ledgerSum) problems.push(`${where}: balance ${a.balance} ≠ ledger sum ${a.ledgerSum}`);
    if (a.balance !== a.lotSum) problems.push(`${where}: balance ${a.balance} ≠ lot credits ${a.lotSum}`);
    if (a.reserved !== a.lotHeld) problems.push(`${where}: reserved ${a.reserved} ≠ held in lots ${a.lotHeld}`);
    if (a.reserved !== a.holdSum) problems.push(`${where}: reserved ${a.reserved} ≠ holds of held reservations ${a.holdSum}`);
    if (a.balance - a.reserved < 0) problems.push(`${where}: available ${a.balance - a.reserved} < 0`);
    if (a.firstDueMs !== null && (a.nextDueAtMs === null || a.nextDueAtMs > a.firstDueMs)) {
      problems.push(`${where}: next due time ${a.nextDueAtMs ?? "none"} is later than the first expiry ${a.firstDueMs}`);
    }
  }
  for (const l of lots) {
    const parts = l.remaining + l.held + l.consumed + l.expired;
    if (parts !== l.amount || Math.min(l.remaining, l.held, l.consumed, l.expired) < 0) {
      problems.push(`${l.appId} lot ${l.lotId}: remaining ${l.remaining} + held ${l.held} + consumed ${l.consumed} + expired ${l.expired} ≠ amount ${l.amount}`);
    }
    if (l.live !== (l.remaining > 0 ? 1 : 0)) problems.push(`${l.appId} lot ${l.lotId}: live flag ${l.live} but remaining ${l.remaining}`);
  }
  return { ok: problems.length === 0, balancesChecked: audits.length, problems };
}

import type { LotRecord } from "../store/records.ts";

/**
 * THE burn-order rule, in one place: lots with a lower `priority` burn first; among equals, the
 * one expiring soonest (lots that never expire last); then the oldest; then by id, so the order
 * is total and the same on every database.
 *
 * @example
 * lots.sort(compareBurnOrder); // lots[0] is the lot a deduct takes from first
 */
export function compareBurnOrder(a: LotRecord, b: LotRecord): number {
  if (a.priority !== b.priority) return a.priority - b.priority;
  if (a.expiresAtMs !== b.expiresAtMs) {
    if (a.expiresAtMs === null) return 1;
    if (b.expiresAtMs === null) return -1;
    return a.expiresAtMs - b.expiresAtMs;
  }
  if (a.createdAtMs !== b.createdAtMs) return a.createdAtMs - b.createdAtMs;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function isExpired(lot: Pick<LotRecord, "expiresAtMs">, nowMs: number): boolean {
  return lot.expiresAtMs !== null && lot.expiresAtMs <= nowMs;
}

export interface BurnStep {
  readonly lot: LotRecord;
  readonly amount: number;
}

export interface BurnPlan {
  readonly steps: BurnStep[];
  /** Credits the usable lots hold in total. */
  readonly available: number;
  /** How much of the amount the lots cannot cover (0 when the plan succeeds). */
  readonly shortBy: number;
}

/**
 * Which lots pay for `amount`, in burn order, using only unheld credits of lots not expired at
 * `nowMs`. Pure: the caller applies the plan.
 *
 * @example
 * const plan = planBurn(lots, 25, Date.now());
 * if (plan.shortBy > 0) throw insufficientCredits(plan.available, 25, "credits");
 */
export function planBurn(lots: readonly LotRecord[], amount: number, nowMs: number): BurnPlan {
  const usable = lots.filter((l) => l.remaining > 0 && !isExpired(l, nowMs)).sort(compareBurnOrder);
  const steps: BurnStep[] = [];
  let available = 0;
  let left = amount;
  for (const lot of usable) {
    available += lot.remaining;
    if (left > 0) {
      const take = Math.min(left, lot.remaining);
      steps.push({ lot, amount: take });
      left -= take;
    }
  }
  return { steps, available, shortBy: left };
}

import type { Database } from "../store/sql.ts";
import type { Clock } from "../domain/clock.ts";
import { advanceSubscription } from "../domain/subscriptions.ts";
import { fulfilOrder } from "../domain/orders.ts";
import { listDueSubscriptions } from "../store/repo/subscriptions.ts";
import { listPendingFreeOrders } from "../store/repo/orders.ts";

export interface RenewalResult {
  /** Subscriptions this call changed (granted, renewed, canceled). */
  advanced: number;
  /** Free auto top-up orders fulfilled. */
  topups: number;
  failed: number;
}

const BATCH_MAX = 200;

/**
 * One pass of the commerce scheduler: every subscription with something due (a period to grant,
 * a period that ended) is brought up to now, catching up on every period missed while no server
 * ran; then pending free auto top-up orders are fulfilled. Any number of processes may run it at
 * once: each subscription's work is a row-locked compare-and-set (see domain/subscriptions.ts).
 */
export async function renewOnce(db: Database, clock: Clock, log?: { warn: (obj: object, msg: string) => void }): Promise<RenewalResult> {
  const result: RenewalResult = { advanced: 0, topups: 0, failed: 0 };
  for (let round = 0; round < 50; round++) {
    const due = await db.read((q) => listDueSubscriptions(q, clock.nowMs(), BATCH_MAX));
    let progressed = 0;
    for (const { appId, id } of due) {
      try {
        if (await advanceSubscription({ db, clock, appId }, id)) progressed++;
      } catch (error) {
        result.failed++;
        log?.warn({ err: error, subscriptionId: id }, "renewal failed; will retry");
      }
    }
    result.advanced += progressed;
    if (due.length < BATCH_MAX || progressed === 0) break;
  }
  const free = await db.read((q) => listPendingFreeOrders(q, BATCH_MAX));
  for (const { appId, id } of free) {
    try {
      const r = await fulfilOrder({ db, clock, appId }, id);
      if (!r.alreadyProcessed) result.topups++;
    } catch (error) {
      result.failed++;
      log?.warn({ err: error, orderId: id }, "auto top-up fulfilment failed; will retry");
    }
  }
  return result;
}

/** Runs `renewOnce` at once (catch-up after downtime) and then every `intervalMs` until stopped. */
export function startRenewals(db: Database, clock: Clock, intervalMs: number, log: { warn: (obj: object, msg: string) => void }): { stop: () => Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const tick = () => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        await renewOnce(db, clock, log);
      } catch (error) {
        log.warn({ err: error }, "renewal pass failed; will retry");
      }
    });
  };
  tick();
  const timer = setInterval(tick, intervalMs);
  timer.unref();
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

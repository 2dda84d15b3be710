import type { Database } from "../store/sql.ts";
import type { Clock } from "../domain/clock.ts";
import { listDueBalances } from "../store/repo/balances.ts";
import { purgeExpiredKeys } from "../store/repo/idempotency.ts";
import { UnitLedger, type LedgerEvent } from "../domain/unit-ledger.ts";
import { LIMITS } from "../domain/limits.ts";

export interface SweepResult {
  settled: number;
  /** What the sweep recorded (also written to the webhook outbox with it). */
  events: LedgerEvent[];
  idempotencyKeysPurged: number;
}

/**
 * Records what fell due: expired holds are released and expired lots written off with an
 * `expiry` transaction. Balances already count these at their expiry time (reads settle first),
 * so the sweeper only makes the ledger say so without waiting for the next request. Each account
 * is settled under its own row lock, so sweepers in several processes never settle one twice.
 */
export async function sweepOnce(db: Database, clock: Clock): Promise<SweepResult> {
  const nowMs = clock.nowMs();
  const due = await db.read((q) => listDueBalances(q, nowMs, LIMITS.sweepBatchMax));
  const events: LedgerEvent[] = [];
  for (const { appId, accountId, unit } of due) {
    // finish() writes the events (expiries) to the webhook outbox in the same transaction.
    events.push(
      ...(await db.transaction(async (tx) => {
        const ledger = await UnitLedger.open({ tx, appId, nowMs: clock.nowMs() }, accountId, unit);
        await ledger.finish();
        return ledger.events;
      })),
    );
  }
  const idempotencyKeysPurged = await db.transaction((tx) => purgeExpiredKeys(tx, nowMs - LIMITS.idempotencyWindowMs, 1000));
  return { settled: due.length, events, idempotencyKeysPurged };
}

/** Runs `sweepOnce` every `intervalMs` until stopped; errors are logged and retried next tick. */
export function startSweeper(
  db: Database,
  clock: Clock,
  intervalMs: number,
  log: { warn: (obj: object, msg: string) => void },
): { stop: () => Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const timer = setInterval(() => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        await sweepOnce(db, clock);
      } catch (error) {
        log.warn({ err: error }, "sweep failed; will retry");
      }
    });
  }, intervalMs);
  timer.unref();
  return {
    stop: async () => {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

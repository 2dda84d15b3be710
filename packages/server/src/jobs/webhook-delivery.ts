import type { Database } from "../store/sql.ts";
import type { Clock } from "../domain/clock.ts";
import { signPayload } from "../domain/webhooks.ts";
import * as repo from "../store/repo/webhooks.ts";

/**
 * Sends the webhook outbox. At least once: a delivery leaves `pending` only on a 2xx answer or
 * when it has been failing for 24 hours. Retries back off exponentially (10 s doubling, capped
 * at an hour between attempts). Every attempt is logged in `webhook_attempts`. Several
 * processes may run this at once: a delivery is claimed (its next attempt pushed past a lease)
 * with a compare-and-set before it is sent, so normally only one sends it.
 */
export const DELIVERY = {
  retryWindowMs: 24 * 60 * 60 * 1000,
  backoffBaseMs: 10_000,
  backoffMaxMs: 60 * 60 * 1000,
  leaseMs: 60_000,
  timeoutMs: 10_000,
  batchMax: 50,
  concurrencyMax: 8,
} as const;

export function backoffMs(attempt: number): number {
  return Math.min(DELIVERY.backoffBaseMs * 2 ** Math.max(0, attempt - 1), DELIVERY.backoffMaxMs);
}

export interface DeliveryPassResult {
  attempted: number;
  delivered: number;
  failed: number;
}

async function attemptOne(db: Database, clock: Clock, appId: string, id: string, expectedNextMs: number, result: DeliveryPassResult): Promise<void> {
  const claimed = await db.transaction((tx) => repo.claimDelivery(tx, appId, id, expectedNextMs, clock.nowMs() + DELIVERY.leaseMs));
  if (!claimed) return;
  const { delivery, endpoint } = await db.read(async (q) => {
    const d = await repo.getDelivery(q, appId, id);
    return { delivery: d, endpoint: d === undefined ? undefined : await repo.getEndpoint(q, appId, d.endpointId) };
  });
  if (delivery === undefined) return;
  const attempt = delivery.attempts + 1;
  const startedMs = clock.nowMs();
  const wallStart = Date.now();
  let statusCode: number | null = null;
  let error: string | null = null;
  if (endpoint === undefined) {
    error = "endpoint deleted";
  } else {
    try {
      const res = await fetch(endpoint.url, {
        method: "POST",
        headers: { "content-type": "application/json", "tally-signature": signPayload(endpoint.secret, delivery.payload, Math.floor(startedMs / 1000)), "user-agent": "Tally-Webhooks/1" },
        body: delivery.payload,
        signal: AbortSignal.timeout(DELIVERY.timeoutMs),
        redirect: "manual",
      });
      statusCode = res.status;
      await res.arrayBuffer().catch(() => undefined);
      if (statusCode < 200 || statusCode >= 300) error = `HTTP ${statusCode}`;
    } catch (e) {
      error = e instanceof Error ? (e.cause instanceof Error ? `${e.message}: ${e.cause.message}` : e.message) : String(e);
    }
  }
  const nowMs = clock.nowMs();
  const ok = error === null;
  const nextMs = nowMs + backoffMs(attempt);
  const giveUp = !ok && (endpoint === undefined || nextMs > delivery.createdAtMs + DELIVERY.retryWindowMs);
  await db.transaction((tx) =>
    repo.recordAttempt(
      tx,
      appId,
      { deliveryId: id, attempt, attemptedAtMs: startedMs, statusCode, error: error === null ? null : error.slice(0, 500), durationMs: Date.now() - wallStart },
      { status: ok ? "delivered" : giveUp ? "failed" : "pending", nextAttemptAtMs: ok || giveUp ? null : nextMs, deliveredAtMs: ok ? nowMs : null },
    ),
  );
  result.attempted++;
  if (ok) result.delivered++;
  else if (giveUp) result.failed++;
}

/** One pass over every delivery due now. */
export async function deliverOnce(db: Database, clock: Clock): Promise<DeliveryPassResult> {
  const result: DeliveryPassResult = { attempted: 0, delivered: 0, failed: 0 };
  const due = await db.read((q) => repo.listDueDeliveries(q, clock.nowMs(), DELIVERY.batchMax));
  for (let i = 0; i < due.length; i += DELIVERY.concurrencyMax) {
    await Promise.all(due.slice(i, i + DELIVERY.concurrencyMax).map((d) => attemptOne(db, clock, d.appId, d.id, d.nextAttemptAtMs, result)));
  }
  return result;
}

export function startWebhookDelivery(db: Database, clock: Clock, intervalMs: number, log: { warn: (obj: object, msg: string) => void }): { stop: () => Promise<void> } {
  let running: Promise<unknown> = Promise.resolve();
  let stopped = false;
  const timer = setInterval(() => {
    running = running.then(async () => {
      if (stopped) return;
      try {
        await deliverOnce(db, clock);
      } catch (error) {
        log.warn({ err: error }, "webhook delivery pass failed; will retry");
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

/**
 * Every limit in one place, named with its unit last. Checked against each other once at start-up
 * (see `assertLimitsConsistent`).
 */
export const LIMITS = {
  amountMax: Number.MAX_SAFE_INTEGER,
  balanceMax: Number.MAX_SAFE_INTEGER,
  stringLengthMax: 255,
  descriptionLengthMax: 1000,
  metadataKeysMax: 50,
  metadataKeyLengthMax: 40,
  metadataValueLengthMax: 500,
  pageLimitMax: 100,
  pageLimitDefault: 20,
  offsetMax: 1_000_000,
  bodyBytesMax: 1024 * 1024,
  idempotencyKeyLengthMax: 255,
  idempotencyWindowMs: 24 * 60 * 60 * 1000,
  idempotencyLockMs: 60 * 1000,
  reservationTtlSecondsDefault: 600,
  reservationTtlSecondsMax: 7 * 24 * 60 * 60,
  lotsPerOperationMax: 10_000,
  priorityMin: -1_000_000,
  priorityMax: 1_000_000,
  tokensMax: 1_000_000_000_000,
  sweepBatchMax: 500,
  /** Live webhook endpoints of one application: every event is fanned out to all of them. */
  webhookEndpointsPerAppMax: 100,
} as const;

export function assertLimitsConsistent(): void {
  if (LIMITS.pageLimitDefault > LIMITS.pageLimitMax) throw new Error("pageLimitDefault > pageLimitMax");
  if (LIMITS.reservationTtlSecondsDefault > LIMITS.reservationTtlSecondsMax) {
    throw new Error("reservationTtlSecondsDefault > reservationTtlSecondsMax");
  }
  if (LIMITS.idempotencyLockMs >= LIMITS.idempotencyWindowMs) throw new Error("idempotency lock ≥ window");
}

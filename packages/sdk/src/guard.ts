/**
 * `tally.guard(params, fn)`: reserve → run → confirm (or cancel on throw).
 */
import type { RequestOptions } from "./core/http.js";
import type { Reservations } from "./resources/reservations.js";
import type { Reservation, ReservationCaptureResult, ReservationCreateParams } from "./types/reservations.js";

/** The live hold handed to a guarded function. */
export interface Hold {
  /** The reservation id (`rsv_…`). */
  readonly id: string;
  /** The reservation as last seen (updated by captures). */
  readonly reservation: Reservation;
  /** Amount held. */
  readonly reserved: number;
  /** Total captured so far through {@link Hold.capture}. */
  readonly captured: number;
  /** The amount reported with {@link Hold.setAmount}, if any. */
  readonly reportedAmount: number | undefined;
  /**
   * Settles part of the hold now (streaming): `POST /v1/reservations/{id}/capture`.
   *
   * @example
   * ```ts
   * await tally.guard({ externalId: "user_456", amount: 100 }, async (hold) => {
   *   for await (const chunk of stream) await hold.capture(chunk.tokens);
   *   hold.setAmount(hold.captured);
   * });
   * ```
   */
  capture(amount: number, options?: RequestOptions): Promise<ReservationCaptureResult>;
  /**
   * Reports the total the work really cost (captures included). The guard confirms this
   * amount; without it, the reserved amount is confirmed.
   *
   * @example
   * ```ts
   * await tally.guard({ externalId: "user_456", amount: 500 }, async (hold) => {
   *   const { tokens } = await callModel();
   *   hold.setAmount(tokens);
   * });
   * ```
   */
  setAmount(amount: number): void;
  /**
   * Moves the hold's expiry (for long work).
   *
   * @example
   * ```ts
   * await hold.extend(900);
   * ```
   */
  extend(ttlSeconds: number, options?: RequestOptions): Promise<Reservation>;
}

/** Options of `guard`: per-call options for the reserve, plus confirm details. */
export interface GuardOptions extends RequestOptions {
  /** Description recorded on the confirm transaction. */
  confirmDescription?: string;
  /** Reason recorded on the cancel when `fn` throws. */
  cancelReason?: string;
}

/** @internal Runs the guard protocol over a reservations resource. */
export async function runGuard<T>(
  reservations: Reservations,
  params: ReservationCreateParams & { dryRun?: false },
  fn: (hold: Hold) => Promise<T> | T,
  options: GuardOptions = {},
): Promise<T> {
  const { confirmDescription, cancelReason, ...requestOptions } = options;
  if ((params as { dryRun?: boolean }).dryRun === true) throw new TypeError("guard cannot run a dry-run reservation");
  let reservation: Reservation = await reservations.create(params, requestOptions);
  let captured = 0;
  let reported: number | undefined;
  const callOptions: RequestOptions = {
    ...(requestOptions.timeoutMs !== undefined ? { timeoutMs: requestOptions.timeoutMs } : {}),
    ...(requestOptions.maxRetries !== undefined ? { maxRetries: requestOptions.maxRetries } : {}),
    ...(requestOptions.signal !== undefined ? { signal: requestOptions.signal } : {}),
  };
  const hold: Hold = {
    get id() {
      return reservation.id;
    },
    get reservation() {
      return reservation;
    },
    get reserved() {
      return reservation.amount;
    },
    get captured() {
      return captured;
    },
    get reportedAmount() {
      return reported;
    },
    async capture(amount, captureOptions) {
      const result = await reservations.capture(reservation.id, { amount }, { ...callOptions, ...captureOptions });
      captured += amount;
      reservation = result.reservation;
      return result;
    },
    setAmount(amount) {
      if (!Number.isInteger(amount) || amount < 0) throw new RangeError(`guard: amount must be a non-negative integer, got ${amount}`);
      reported = amount;
    },
    async extend(ttlSeconds, extendOptions) {
      reservation = await reservations.extend(reservation.id, { ttlSeconds }, { ...callOptions, ...extendOptions });
      return reservation;
    },
  };

  let result: T;
  try {
    result = await fn(hold);
  } catch (error) {
    try {
      await reservations.cancel(reservation.id, cancelReason !== undefined ? { reason: cancelReason } : {}, callOptions);
    } catch {
      // The original failure matters more; an uncanceled hold is released at its expiry.
    }
    throw error;
  }
  const amount = reported ?? reservation.amount;
  if (amount === 0) {
    // Nothing (more) to charge: release the hold; captures already made stay charged.
    await reservations.cancel(reservation.id, { reason: cancelReason ?? "guard: amount 0" }, callOptions);
    return result;
  }
  await reservations.confirm(reservation.id, { amount, ...(confirmDescription !== undefined ? { description: confirmDescription } : {}) }, callOptions);
  return result;
}

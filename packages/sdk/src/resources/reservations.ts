import type { RequestOptions } from "../core/http.js";
import type { PagePromise } from "../core/pagination.js";
import { APIResource } from "../core/resource.js";
import { seg } from "../core/util.js";
import type { DryRunResult } from "../types/credits.js";
import type {
  Reservation,
  ReservationCancelParams,
  ReservationCancelResult,
  ReservationCaptureParams,
  ReservationCaptureResult,
  ReservationConfirmParams,
  ReservationConfirmResult,
  ReservationCreateParams,
  ReservationCreateResult,
  ReservationExtendParams,
  ReservationListParams,
} from "../types/reservations.js";

/** Reservations: hold credits before work, then confirm, capture or cancel. */
export class Reservations extends APIResource {
  /**
   * Holds credits (402 `InsufficientCreditsError` when short). The hold expires after
   * `ttlSeconds` (default 600). Without `amount`, the price of `operation` is held. The
   * result is the reservation plus `balance` (after the hold).
   *
   * @example
   * ```ts
   * const r = await tally.reservations.create({ externalId: "user_456", amount: 500, ttlSeconds: 300, operation: "llm.call" });
   * ```
   */
  create(params: ReservationCreateParams & { dryRun: true }, options?: RequestOptions): Promise<DryRunResult>;
  create(params: ReservationCreateParams & { dryRun?: false }, options?: RequestOptions): Promise<ReservationCreateResult>;
  create(params: ReservationCreateParams, options?: RequestOptions): Promise<ReservationCreateResult | DryRunResult>;
  create(params: ReservationCreateParams, options?: RequestOptions): Promise<ReservationCreateResult | DryRunResult> {
    return this._http.request({ method: "POST", path: "/v1/reservations", body: params, options });
  }

  /**
   * Settles the hold: charges `amount` in total (captures included; default the reserved
   * amount) and releases the rest.
   *
   * @example
   * ```ts
   * const { transaction, balance } = await tally.reservations.confirm(r.id, { amount: 420 });
   * ```
   */
  confirm(reservationId: string, params: ReservationConfirmParams = {}, options?: RequestOptions): Promise<ReservationConfirmResult> {
    return this._http.request({ method: "POST", path: `/v1/reservations/${seg(reservationId)}/confirm`, body: params, options });
  }

  /**
   * Releases the hold without charging (captures already made stay charged).
   *
   * @example
   * ```ts
   * await tally.reservations.cancel(r.id, { reason: "model call failed" });
   * ```
   */
  cancel(reservationId: string, params: ReservationCancelParams = {}, options?: RequestOptions): Promise<ReservationCancelResult> {
    return this._http.request({ method: "POST", path: `/v1/reservations/${seg(reservationId)}/cancel`, body: params, options });
  }

  /**
   * Settles part of the hold now and keeps the rest held (for streaming).
   *
   * @example
   * ```ts
   * await tally.reservations.capture(r.id, { amount: 50 });
   * ```
   */
  capture(reservationId: string, params: ReservationCaptureParams, options?: RequestOptions): Promise<ReservationCaptureResult> {
    return this._http.request({ method: "POST", path: `/v1/reservations/${seg(reservationId)}/capture`, body: params, options });
  }

  /**
   * Moves the hold's expiry to `ttlSeconds` from now.
   *
   * @example
   * ```ts
   * const extended = await tally.reservations.extend(r.id, { ttlSeconds: 900 });
   * ```
   */
  extend(reservationId: string, params: ReservationExtendParams, options?: RequestOptions): Promise<Reservation> {
    return this._http.request({ method: "POST", path: `/v1/reservations/${seg(reservationId)}/extend`, body: params, options });
  }

  /**
   * Gets one reservation.
   *
   * @example
   * ```ts
   * const { status, capturedAmount } = await tally.reservations.get("rsv_01J…");
   * ```
   */
  get(reservationId: string, options?: RequestOptions): Promise<Reservation> {
    return this._http.request({ method: "GET", path: `/v1/reservations/${seg(reservationId)}`, options });
  }

  /**
   * Lists reservations, newest first.
   *
   * @example
   * ```ts
   * for await (const r of tally.reservations.list({ accountId: "acct_01J…", status: "held" })) console.log(r.id);
   * ```
   */
  list(params?: ReservationListParams, options?: RequestOptions): PagePromise<Reservation> {
    return this._list<Reservation, ReservationListParams>("/v1/reservations", params, options);
  }
}

/**
 * The SDK's errors. One base class, `TallyError`, and a subclass per class of failure, chosen
 * from the HTTP status in exactly one place: {@link TallyError.generate}.
 */

/** Free-form details from the server's error envelope (e.g. `{ available, required, unit }`). */
export type ErrorDetails = Readonly<Record<string, unknown>>;

/** The body of every non-2xx response, as the contract defines it. */
export interface ErrorEnvelope {
  error: {
    code: string;
    message: string;
    status: number;
    requestId: string;
    details?: Record<string, unknown>;
  };
}

/** What every error carries; used to construct errors. */
export interface TallyErrorInit {
  code: string;
  message: string;
  status?: number | undefined;
  requestId?: string | undefined;
  method?: string | undefined;
  path?: string | undefined;
  details?: ErrorDetails | undefined;
  isRetryable?: boolean | undefined;
  headers?: Readonly<Record<string, string>> | undefined;
  cause?: unknown;
}

/**
 * Base class of every error the SDK throws.
 *
 * @example
 * ```ts
 * try {
 *   await tally.credits.deduct({ externalId: "user_456", amount: 5, idempotencyKey: "turn-1" });
 * } catch (err) {
 *   if (err instanceof TallyError) console.error(err.code, err.status, err.requestId, err.details);
 *   throw err;
 * }
 * ```
 */
export class TallyError extends Error {
  /** Machine-readable code, e.g. `INSUFFICIENT_CREDITS`, `ACCOUNT_NOT_FOUND`, `TIMEOUT`. */
  readonly code: string;
  /** HTTP status, or `undefined` when no response arrived (connection errors, timeouts). */
  readonly status: number | undefined;
  /** The server's request id (`req_…`), from the error body or the `x-request-id` header. */
  readonly requestId: string | undefined;
  /** HTTP method of the failed request. */
  readonly method: string | undefined;
  /** Path (with query) of the failed request, e.g. `/v1/credits/deduct`. */
  readonly path: string | undefined;
  /** `error.details` from the server, if any. */
  readonly details: ErrorDetails | undefined;
  /** Whether the request may succeed if repeated (the SDK retries these itself). */
  readonly isRetryable: boolean;
  /** Response headers (lower-case names), when a response arrived. */
  readonly headers: Readonly<Record<string, string>> | undefined;

  constructor(init: TallyErrorInit) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = new.target.name;
    this.code = init.code;
    this.status = init.status;
    this.requestId = init.requestId;
    this.method = init.method;
    this.path = init.path;
    this.details = init.details;
    this.isRetryable = init.isRetryable ?? false;
    this.headers = init.headers;
  }

  /**
   * Same as `status` (the name some SDKs use, e.g. Crovver's `statusCode`).
   *
   * @example
   * ```ts
   * catch (err) { if (err instanceof TallyError && err.statusCode === 402) showTopUp(); }
   * ```
   */
  get statusCode(): number | undefined {
    return this.status;
  }

  /**
   * Builds the right subclass for an HTTP error response. The single place where a status
   * becomes a class.
   *
   * @example
   * ```ts
   * const err = TallyError.generate({ status: 402, code: "INSUFFICIENT_CREDITS", message: "Insufficient credits" });
   * err instanceof InsufficientCreditsError; // true
   * ```
   */
  static generate(init: TallyErrorInit & { status: number }): TallyError {
    const { status } = init;
    const retryable = isRetryableStatus(status, init.code);
    const full: TallyErrorInit = { ...init, isRetryable: init.isRetryable ?? retryable };
    if (status === 400 || status === 413 || status === 415 || status === 422 || status === 431) return new ValidationError(full);
    if (status === 401) return new AuthenticationError(full);
    if (status === 402) return new InsufficientCreditsError(full);
    if (status === 403) return new PermissionError(full);
    if (status === 404) return new NotFoundError(full);
    if (status === 409) return new ConflictError(full);
    if (status === 429) return new RateLimitError(full);
    if (status >= 500) return new InternalServerError(full);
    return new TallyError(full);
  }
}

/** 400, 413, 415, 422, 431: the request is malformed (`VALIDATION_ERROR`, `INVALID_JSON`, …). `details.issues` lists `{ path, message }`. */
export class ValidationError extends TallyError {}

/** 401 `UNAUTHENTICATED`: missing, unknown or revoked key, bad JWT, bad HMAC signature. */
export class AuthenticationError extends TallyError {}

/**
 * 402: `INSUFFICIENT_CREDITS` (details `available`, `required`, `unit`) or
 * `SPEND_LIMIT_EXCEEDED` (details `window`, `limit`, `spent`).
 */
export class InsufficientCreditsError extends TallyError {
  /**
   * Credits available when the request was refused (`details.available`), if reported.
   *
   * @example
   * ```ts
   * catch (err) { if (err instanceof InsufficientCreditsError) console.log(err.available, err.required); }
   * ```
   */
  get available(): number | undefined {
    return numberDetail(this.details, "available");
  }
  /**
   * Credits the request needed (`details.required`), if reported.
   *
   * @example
   * ```ts
   * const missing = (err.required ?? 0) - (err.available ?? 0);
   * ```
   */
  get required(): number | undefined {
    return numberDetail(this.details, "required");
  }
}

/** 403 `FORBIDDEN`: the key lacks the scope, or an end-user token tried to reach further. */
export class PermissionError extends TallyError {}

/** 404: `ACCOUNT_NOT_FOUND`, `RESERVATION_NOT_FOUND`, … or `NOT_FOUND` for an unknown route. */
export class NotFoundError extends TallyError {}

/** 409: `ACCOUNT_EXISTS`, `IDEMPOTENCY_KEY_REUSED`, `RESERVATION_NOT_HELD`, … */
export class ConflictError extends TallyError {}

/** 429 `RATE_LIMITED`. `retryAfterMs` is what the server asked for. */
export class RateLimitError extends TallyError {
  /**
   * The server's `retry-after`, in milliseconds, if it sent one.
   *
   * @example
   * ```ts
   * catch (err) { if (err instanceof RateLimitError) await sleep(err.retryAfterMs ?? 1000); }
   * ```
   */
  get retryAfterMs(): number | undefined {
    const header = this.headers?.["retry-after"];
    return header === undefined ? undefined : parseRetryAfterMs(header, Date.now());
  }
}

/** 5xx: `INTERNAL` or `UNAVAILABLE`. */
export class InternalServerError extends TallyError {}

/** No response: DNS failure, refused or dropped connection, or the caller aborted. */
export class ConnectionError extends TallyError {}

/** An attempt took longer than `timeoutMs` and was aborted. */
export class TimeoutError extends ConnectionError {}

/** The SDK was given options it cannot work with (e.g. a secret key in the browser client). */
export class ConfigurationError extends TallyError {
  constructor(message: string) {
    super({ code: "CONFIGURATION_ERROR", message });
  }
}

/**
 * Statuses (and 409 code) that the SDK retries.
 *
 * @example
 * ```ts
 * isRetryableStatus(409, "IDEMPOTENCY_KEY_IN_USE"); // true
 * isRetryableStatus(402, "INSUFFICIENT_CREDITS");   // false
 * ```
 */
export function isRetryableStatus(status: number, code: string | undefined): boolean {
  if (status === 408 || status === 429 || status >= 500) return true;
  return status === 409 && code === "IDEMPOTENCY_KEY_IN_USE";
}

/**
 * Parses a `retry-after` value (seconds or an HTTP date) into milliseconds from `nowMs`.
 * Returns `undefined` when it cannot be parsed.
 *
 * @example
 * ```ts
 * parseRetryAfterMs("2", Date.now()); // 2000
 * ```
 */
export function parseRetryAfterMs(value: string, nowMs: number): number | undefined {
  const trimmed = value.trim();
  if (trimmed === "") return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const dateMs = Date.parse(trimmed);
  if (Number.isNaN(dateMs)) return undefined;
  return Math.max(0, dateMs - nowMs);
}

function numberDetail(details: ErrorDetails | undefined, key: string): number | undefined {
  const value = details?.[key];
  return typeof value === "number" ? value : undefined;
}

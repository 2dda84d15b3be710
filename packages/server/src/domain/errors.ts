/**
 * Every error code the API can answer, with its HTTP status. The table is the single source of
 * truth: the HTTP layer, the OpenAPI document and the tests all read it.
 */
export const ERROR_STATUS = {
  VALIDATION_ERROR: 400,
  INVALID_JSON: 400,
  UNAUTHENTICATED: 401,
  INSUFFICIENT_CREDITS: 402,
  SPEND_LIMIT_EXCEEDED: 402,
  FORBIDDEN: 403,
  ACCOUNT_NOT_FOUND: 404,
  TRANSACTION_NOT_FOUND: 404,
  RESERVATION_NOT_FOUND: 404,
  PLAN_NOT_FOUND: 404,
  PRODUCT_NOT_FOUND: 404,
  ADDON_NOT_FOUND: 404,
  SUBSCRIPTION_NOT_FOUND: 404,
  ORDER_NOT_FOUND: 404,
  PRICE_NOT_FOUND: 404,
  NOT_FOUND: 404,
  ACCOUNT_EXISTS: 409,
  IDEMPOTENCY_KEY_REUSED: 409,
  IDEMPOTENCY_KEY_IN_USE: 409,
  RESERVATION_NOT_HELD: 409,
  RESERVATION_EXPIRED: 409,
  REFUND_EXCEEDS_ORIGINAL: 409,
  /** Node's HTTP parser refused the request before any route saw it (http/client-errors.ts). */
  REQUEST_TIMEOUT: 408,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  HEADERS_TOO_LARGE: 431,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export type ErrorDetails = Record<string, unknown>;

/**
 * An expected failure the caller can act on (not a bug). Domain code throws these; the HTTP
 * layer turns them into the contract's envelope. Anything else that escapes is a bug → 500.
 */
export class TallyError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly details: ErrorDetails | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(code: ErrorCode, message: string, details?: ErrorDetails, headers?: Record<string, string>) {
    super(message);
    this.name = "TallyError";
    this.code = code;
    this.status = ERROR_STATUS[code];
    this.details = details;
    this.headers = headers;
  }
}

export function insufficientCredits(available: number, required: number, unit: string): TallyError {
  return new TallyError(
    "INSUFFICIENT_CREDITS",
    `Insufficient credits: ${available} ${unit} available, ${required} required`,
    { available, required, unit },
  );
}

export function validationError(path: string, message: string): TallyError {
  return new TallyError("VALIDATION_ERROR", `${path}: ${message}`, { issues: [{ path, message }] });
}

export function notFound(code: ErrorCode & `${string}NOT_FOUND`, what: string, id: string): TallyError {
  return new TallyError(code, `No ${what} with id ${JSON.stringify(id)}`);
}

/**
 * A broken invariant: a programmer error, never an expected outcome. Fails the current
 * database transaction so that nothing half-done is committed.
 */
export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new InvariantError(message);
}

export class InvariantError extends Error {
  constructor(message: string) {
    super(`invariant violated: ${message}`);
    this.name = "InvariantError";
  }
}

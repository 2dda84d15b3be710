/**
 * The HTTP core shared by `Tally` and `TallyUserClient`: URL building, auth headers, timeouts,
 * retries with backoff, idempotency keys, error mapping and logging. Internal: not exported
 * from the package's entry points except for its types.
 */
import { ConnectionError, TallyError, TimeoutError, isRetryableStatus, parseRetryAfterMs, type ErrorDetails } from "./errors.js";
import { makeEmitter, redactBody, redactHeaders, type LogLevel, type TallyLogger } from "./logger.js";
import { buildQuery, randomUUID, sleep as defaultSleep, type QueryValue } from "./util.js";

/** The default server address (a local `npm start`). */
export const DEFAULT_BASE_URL = "http://127.0.0.1:8787";
/** Default per-attempt timeout. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Default number of retries after the first attempt. */
export const DEFAULT_MAX_RETRIES = 3;

/** First backoff delay; doubles per retry up to {@link RETRY_DELAY_MAX_MS}. */
export const RETRY_DELAY_INITIAL_MS = 500;
/** Largest backoff delay. */
export const RETRY_DELAY_MAX_MS = 8_000;
/** Largest `retry-after` the SDK honours; longer values are capped to this. */
export const RETRY_AFTER_MAX_MS = 60_000;
/** Up to this fraction of each backoff delay is removed at random (jitter). */
export const RETRY_JITTER = 0.25;

/** The subset of `RequestInit` the SDK passes to `fetch`. */
export interface FetchInit {
  method: string;
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
}

/** The subset of `Response` the SDK reads. The global `Response` satisfies it. */
export interface FetchResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  readonly headers: { get(name: string): string | null; forEach(callback: (value: string, key: string) => void): void };
  text(): Promise<string>;
}

/** A `fetch` implementation: the global one, undici's, a test double, … */
export type FetchLike = (url: string, init: FetchInit) => Promise<FetchResponse>;

/** Per-call options accepted as the last argument of every method. */
export interface RequestOptions {
  /**
   * `Idempotency-Key` header for a mutating call (POST/PUT/PATCH/DELETE). Generated once per
   * call when absent, and reused by every retry of that call.
   */
  idempotencyKey?: string;
  /** Overrides the client's `timeoutMs` for this call (each attempt). */
  timeoutMs?: number;
  /** Overrides the client's `maxRetries` for this call. */
  maxRetries?: number;
  /** Aborts the call (and any pending retry). */
  signal?: AbortSignal;
  /** Extra headers for this call. */
  headers?: Record<string, string>;
}

/** What an auth strategy is given to produce the `Authorization` header of one attempt. */
export interface AuthInput {
  method: string;
  /** URL path plus `?query`, exactly as sent. */
  pathWithQuery: string;
  /** The exact body string sent ("" when none). */
  body: string;
}

/** Produces the `Authorization` header value for one attempt (fresh for each retry). */
export type AuthStrategy = (input: AuthInput) => Promise<string | undefined> | string | undefined;

/** Configuration of the HTTP core. */
export interface HttpClientConfig {
  baseUrl: string;
  timeoutMs: number;
  maxRetries: number;
  fetch: FetchLike | undefined;
  auth: AuthStrategy;
  logger: TallyLogger | undefined;
  debug: boolean | undefined;
  defaultHeaders: Record<string, string> | undefined;
  /** Waits between retries; replaceable so tests need not wait real seconds. */
  sleep: ((ms: number, signal?: AbortSignal) => Promise<void>) | undefined;
  /** Random source for jitter (0 ≤ x < 1). */
  random: (() => number) | undefined;
}

/** One request as the resources describe it. */
export interface RequestSpec {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  path: string;
  query?: Readonly<Record<string, QueryValue>> | undefined;
  body?: unknown;
  options?: RequestOptions | undefined;
  /** `false` for calls that must never be retried (checkout, purchase). */
  retry?: boolean;
  /** Supplies the idempotency key to the body builder (purchase puts it in the body too). */
  bodyFromKey?: (idempotencyKey: string) => unknown;
}

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** The HTTP core. */
export class HttpClient {
  readonly baseUrl: string;
  private readonly config: HttpClientConfig;
  private readonly emit: ((level: LogLevel, message: string, data?: Record<string, unknown>) => void) | undefined;

  constructor(config: HttpClientConfig) {
    this.config = config;
    this.baseUrl = config.baseUrl.replace(/\/+$/, "");
    this.emit = makeEmitter(config.logger, config.debug);
    if (!Number.isFinite(config.timeoutMs) || config.timeoutMs <= 0) throw new TypeError("timeoutMs must be a positive number");
    if (!Number.isInteger(config.maxRetries) || config.maxRetries < 0) throw new TypeError("maxRetries must be a non-negative integer");
  }

  /** Sends a request with retries and returns the parsed JSON body. */
  async request<T>(spec: RequestSpec): Promise<T> {
    const method = spec.method;
    const options = spec.options ?? {};
    const mutating = MUTATING.has(method);
    const idempotencyKey = mutating ? (options.idempotencyKey ?? randomUUID()) : undefined;
    const bodyValue = spec.bodyFromKey !== undefined && idempotencyKey !== undefined ? spec.bodyFromKey(idempotencyKey) : spec.body;
    // POST/PUT/PATCH always carry a JSON body (the server parses `{}` for "no fields").
    const body = method === "GET" || method === "DELETE" ? (bodyValue === undefined ? undefined : JSON.stringify(bodyValue)) : JSON.stringify(bodyValue ?? {});
    const url = new URL(this.baseUrl + spec.path + buildQuery(spec.query));
    const pathWithQuery = url.pathname + url.search;
    const maxRetries = spec.retry === false ? 0 : (options.maxRetries ?? this.config.maxRetries);
    const timeoutMs = options.timeoutMs ?? this.config.timeoutMs;
    const fetchImpl = this.resolveFetch();

    for (let attempt = 0; ; attempt++) {
      const headers: Record<string, string> = { accept: "application/json", ...this.config.defaultHeaders, ...options.headers };
      if (body !== undefined) headers["content-type"] = "application/json";
      if (idempotencyKey !== undefined) headers["idempotency-key"] = idempotencyKey;
      const authorization = await this.config.auth({ method, pathWithQuery, body: body ?? "" });
      if (authorization !== undefined) headers["authorization"] = authorization;

      const started = Date.now();
      this.emit?.("debug", `→ ${method} ${pathWithQuery}`, {
        method,
        url: url.toString(),
        attempt: attempt + 1,
        headers: redactHeaders(headers),
        body: redactBody(body),
      });

      const outcome = await this.attempt(fetchImpl, url.toString(), { method, headers, ...(body !== undefined ? { body } : {}) }, timeoutMs, options.signal);
      const canRetry = attempt < maxRetries;

      if (outcome.kind === "network") {
        const error = outcome.timedOut
          ? new TimeoutError({ code: "TIMEOUT", message: `Request timed out after ${timeoutMs} ms`, method, path: pathWithQuery, isRetryable: true, cause: outcome.error })
          : outcome.aborted
            ? new ConnectionError({ code: "REQUEST_ABORTED", message: "Request was aborted", method, path: pathWithQuery, isRetryable: false, cause: outcome.error })
            : new ConnectionError({ code: "CONNECTION_ERROR", message: `Connection error: ${describe(outcome.error)}`, method, path: pathWithQuery, isRetryable: true, cause: outcome.error });
        this.emit?.("warn", `✗ ${method} ${pathWithQuery} ${error.code}`, { attempt: attempt + 1, durationMs: Date.now() - started, message: error.message });
        if (error.isRetryable && canRetry) {
          await this.backoff(attempt, undefined, method, pathWithQuery, options.signal);
          continue;
        }
        throw error;
      }

      const { response, text } = outcome;
      const responseHeaders = headersToObject(response);
      const requestId = responseHeaders["x-request-id"];
      this.emit?.(response.ok ? "debug" : "warn", `← ${response.status} ${method} ${pathWithQuery}`, {
        status: response.status,
        requestId,
        attempt: attempt + 1,
        durationMs: Date.now() - started,
        replayed: responseHeaders["idempotent-replayed"] === "true" ? true : undefined,
        body: redactBody(text),
      });

      if (response.ok) {
        if (text === "" || response.status === 204) return undefined as T;
        try {
          return JSON.parse(text) as T;
        } catch (cause) {
          throw new TallyError({ code: "INVALID_RESPONSE", message: `Expected JSON from ${method} ${pathWithQuery}, got: ${text.slice(0, 200)}`, status: response.status, requestId, method, path: pathWithQuery, cause });
        }
      }

      const error = errorFromResponse(response, text, responseHeaders, method, pathWithQuery);
      if (isRetryableStatus(response.status, error.code) && canRetry) {
        await this.backoff(attempt, responseHeaders, method, pathWithQuery, options.signal);
        continue;
      }
      throw error;
    }
  }

  /** One fetch with its own timeout; never throws. */
  private async attempt(
    fetchImpl: FetchLike,
    url: string,
    init: Omit<FetchInit, "signal">,
    timeoutMs: number,
    userSignal: AbortSignal | undefined,
  ): Promise<{ kind: "response"; response: FetchResponse; text: string } | { kind: "network"; error: unknown; timedOut: boolean; aborted: boolean }> {
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error(`timeout after ${timeoutMs} ms`));
    }, timeoutMs);
    const onUserAbort = (): void => controller.abort(userSignal?.reason);
    if (userSignal?.aborted) controller.abort(userSignal.reason);
    else userSignal?.addEventListener("abort", onUserAbort, { once: true });
    try {
      const response = await fetchImpl(url, { ...init, signal: controller.signal });
      const text = await response.text();
      return { kind: "response", response, text };
    } catch (error) {
      return { kind: "network", error, timedOut, aborted: !timedOut && userSignal?.aborted === true };
    } finally {
      clearTimeout(timer);
      userSignal?.removeEventListener("abort", onUserAbort);
    }
  }

  /** Waits before retry number `attempt + 1`: `retry-after` if given (capped), else exponential backoff with jitter. */
  private async backoff(attempt: number, headers: Record<string, string> | undefined, method: string, path: string, signal: AbortSignal | undefined): Promise<void> {
    const delayMs = retryDelayMs(attempt, headers, this.config.random ?? Math.random);
    this.emit?.("info", `↻ retrying ${method} ${path} in ${delayMs} ms`, { attempt: attempt + 2, delayMs });
    try {
      await (this.config.sleep ?? defaultSleep)(delayMs, signal);
    } catch (cause) {
      throw new ConnectionError({ code: "REQUEST_ABORTED", message: "Request was aborted", method, path, isRetryable: false, cause });
    }
  }

  private resolveFetch(): FetchLike {
    if (this.config.fetch !== undefined) return this.config.fetch;
    const globalFetch = (globalThis as { fetch?: FetchLike }).fetch;
    if (typeof globalFetch !== "function") throw new TypeError("No global fetch: pass the `fetch` option (Node 18+, browsers, Deno, Bun and edge runtimes have one)");
    return globalFetch.bind(globalThis);
  }
}

/**
 * Delay before retry number `attempt + 1` (attempt counts from 0): the server's `retry-after`
 * (or `retry-after-ms`) capped at 60 s, else 0.5 s × 2^attempt capped at 8 s minus up to 25 % jitter.
 */
export function retryDelayMs(attempt: number, headers: Record<string, string> | undefined, random: () => number): number {
  const retryAfterMsHeader = headers?.["retry-after-ms"];
  if (retryAfterMsHeader !== undefined && /^\d+(\.\d+)?$/.test(retryAfterMsHeader.trim())) {
    return Math.min(Math.round(Number(retryAfterMsHeader)), RETRY_AFTER_MAX_MS);
  }
  const retryAfter = headers?.["retry-after"];
  if (retryAfter !== undefined) {
    const ms = parseRetryAfterMs(retryAfter, Date.now());
    if (ms !== undefined) return Math.min(ms, RETRY_AFTER_MAX_MS);
  }
  const base = Math.min(RETRY_DELAY_INITIAL_MS * 2 ** attempt, RETRY_DELAY_MAX_MS);
  return Math.round(base * (1 - random() * RETRY_JITTER));
}

function headersToObject(response: FetchResponse): Record<string, string> {
  const out: Record<string, string> = {};
  response.headers.forEach((value, key) => {
    out[key.toLowerCase()] = value;
  });
  return out;
}

/** Maps an error response (body per the contract, or anything a proxy sends) to a TallyError. */
function errorFromResponse(response: FetchResponse, text: string, headers: Record<string, string>, method: string, path: string): TallyError {
  let code = `HTTP_${response.status}`;
  let message = response.statusText || `HTTP ${response.status}`;
  let requestId = headers["x-request-id"];
  let details: ErrorDetails | undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    const envelope = isObject(parsed) && isObject(parsed["error"]) ? parsed["error"] : undefined;
    if (envelope !== undefined) {
      if (typeof envelope["code"] === "string") code = envelope["code"];
      if (typeof envelope["message"] === "string") message = envelope["message"];
      if (typeof envelope["requestId"] === "string") requestId = envelope["requestId"];
      if (isObject(envelope["details"])) details = envelope["details"];
    }
  } catch {
    if (text.trim() !== "") message = `${message}: ${text.trim().slice(0, 200)}`;
  }
  return TallyError.generate({ status: response.status, code, message, requestId, method, path, details, headers });
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function describe(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error && cause.message !== error.message ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}

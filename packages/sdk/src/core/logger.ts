/** Request/response logging without secrets. */

/** A log function: `(message, data?) => void` (the shape of `console.log`). */
export type LogFn = (message: string, data?: Record<string, unknown>) => void;

/**
 * Where the SDK writes its debug lines: a function, or an object with level methods such as
 * `console` or a pino/winston logger.
 */
export type TallyLogger = LogFn | { debug?: LogFn; info?: LogFn; warn?: LogFn; error?: LogFn };

/** Log levels the SDK emits. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const REDACTED = "[redacted]";

/** Header names whose values are never logged. */
const SECRET_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "tally-signature", "stripe-signature"]);

/** Body keys whose string values are never logged (compared lower-case). */
const SECRET_KEYS = new Set([
  "key",
  "apikey",
  "secret",
  "secretkey",
  "hmacsecret",
  "token",
  "accesstoken",
  "refreshtoken",
  "admintoken",
  "password",
  "signature",
  "sig",
  "authorization",
  "privatekey",
  "clientsecret",
]);

function isSecretKey(key: string): boolean {
  const lower = key.toLowerCase();
  return SECRET_KEYS.has(lower) || lower.endsWith("secret") || lower.endsWith("token") || lower.endsWith("password");
}

/** Strings that look like credentials whatever their key: secret keys, HMAC secrets, JWTs. */
function looksSecret(value: string): boolean {
  return /^(sk|hk|whsec|rk)_[A-Za-z0-9]/.test(value) || /^eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\./.test(value) || /^Bearer\s/i.test(value);
}

/** A deep copy of a JSON value with secret-looking fields replaced by `[redacted]`. */
export function redact(value: unknown, depth = 0): unknown {
  if (depth > 20) return "[deep]";
  if (typeof value === "string") return looksSecret(value) ? REDACTED : value;
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      out[k] = isSecretKey(k) && (typeof v === "string" || typeof v === "number") ? REDACTED : redact(v, depth + 1);
    }
    return out;
  }
  return value;
}

/** Headers with secret values replaced by `[redacted]`. */
export function redactHeaders(headers: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name] = SECRET_HEADERS.has(name.toLowerCase()) ? redactAuthorization(value) : value;
  }
  return out;
}

/** Keeps only the scheme of an Authorization value: `Bearer [redacted]`. */
function redactAuthorization(value: string): string {
  const scheme = /^([A-Za-z-]+)\s/.exec(value)?.[1];
  return scheme === undefined ? REDACTED : `${scheme} ${REDACTED}`;
}

/** Parses a body for logging: JSON is redacted field by field, anything else is summarized. */
export function redactBody(text: string | undefined): unknown {
  if (text === undefined || text === "") return undefined;
  try {
    return redact(JSON.parse(text));
  } catch {
    return looksSecret(text) ? REDACTED : `<${text.length} bytes of non-JSON>`;
  }
}

/** Turns the `logger`/`debug` options into one emit function, or `undefined` when logging is off. */
export function makeEmitter(logger: TallyLogger | undefined, debug: boolean | undefined): ((level: LogLevel, message: string, data?: Record<string, unknown>) => void) | undefined {
  if (logger === undefined && debug !== true) return undefined;
  const target: TallyLogger = logger ?? defaultConsoleLogger();
  return (level, message, data) => {
    try {
      if (typeof target === "function") {
        target(`[tally] ${message}`, data);
        return;
      }
      const fn = target[level] ?? target.debug ?? target.info;
      fn?.call(target, `[tally] ${message}`, data);
    } catch {
      // A failing logger must never break a request.
    }
  };
}

function defaultConsoleLogger(): TallyLogger {
  const c = (globalThis as { console?: { debug?: LogFn; info?: LogFn; warn?: LogFn; error?: LogFn } }).console;
  return c ?? ((): void => undefined);
}

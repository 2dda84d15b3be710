/** Small runtime helpers that only use web-standard globals (no `node:` imports). */

/**
 * A random UUID v4 from `globalThis.crypto` (browsers, Deno, Bun, edge, Node 19+). On a runtime
 * without Web Crypto (Node 18 without `--experimental-global-webcrypto`) it falls back to
 * `Math.random`, which is enough for idempotency keys (unique, not secret).
 */
export function randomUUID(): string {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (typeof c?.randomUUID === "function") return c.randomUUID();
  const bytes = typeof c?.getRandomValues === "function" ? c.getRandomValues(new Uint8Array(16)) : Uint8Array.from({ length: 16 }, () => Math.floor(Math.random() * 256));
  bytes[6] = (bytes[6]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = toHex(bytes);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** `n` cryptographically random bytes. */
export function randomBytes(n: number): Uint8Array {
  const c = (globalThis as { crypto?: Crypto }).crypto;
  if (typeof c?.getRandomValues !== "function") throw new Error(NO_WEB_CRYPTO);
  return c.getRandomValues(new Uint8Array(n));
}

/** Why signing cannot work here, and what to do. */
export const NO_WEB_CRYPTO =
  "HMAC signing needs Web Crypto (globalThis.crypto.subtle): Node 19+, browsers, Deno, Bun and edge runtimes have it; on Node 18 run with --experimental-global-webcrypto or set globalThis.crypto to the webcrypto export of node:crypto";

/** Lower-case hex of bytes. */
export function toHex(bytes: Uint8Array | ArrayBuffer): string {
  const view = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let out = "";
  for (const b of view) out += b.toString(16).padStart(2, "0");
  return out;
}

/** Resolves after `ms`, or rejects at once when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Query parameter values the SDK can serialize. */
export type QueryValue = string | number | boolean | null | undefined;

/** `?a=1&b=x` from an object; `undefined` and `null` values are left out. Empty → "". */
export function buildQuery(query: Readonly<Record<string, QueryValue>> | undefined): string {
  if (query === undefined) return "";
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined || value === null) continue;
    params.append(key, String(value));
  }
  const text = params.toString();
  return text === "" ? "" : `?${text}`;
}

/** Encodes one path segment (ids, external ids, price keys). */
export function seg(value: string): string {
  if (typeof value !== "string" || value.length === 0) throw new TypeError(`Expected a non-empty string path parameter, got ${JSON.stringify(value)}`);
  return encodeURIComponent(value);
}

/** Reads `process.env[name]` when a `process` global exists (Node, Bun, Deno's compat), else `undefined`. */
export function readEnv(name: string): string | undefined {
  const proc = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process;
  const value = proc?.env?.[name];
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

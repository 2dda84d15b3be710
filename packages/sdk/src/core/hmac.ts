/**
 * HMAC request signing for `hk_…` keys, with Web Crypto (`crypto.subtle`) only:
 *
 * `Authorization: Tally-HMAC keyId=<id>, ts=<unix s>, nonce=<hex>, sig=<hex>` where
 * `sig = hex(hmac-sha256(secret, ts + "\n" + nonce + "\n" + METHOD + "\n" + pathWithQuery + "\n" + sha256hex(body)))`.
 */
import type { AuthInput } from "./http.js";
import { ConfigurationError } from "./errors.js";
import { NO_WEB_CRYPTO, randomBytes, toHex } from "./util.js";

const encoder = new TextEncoder();

function subtle(): SubtleCrypto {
  const s = (globalThis as { crypto?: Crypto }).crypto?.subtle;
  if (s === undefined) throw new ConfigurationError(NO_WEB_CRYPTO);
  return s;
}

/**
 * Hex SHA-256 of a UTF-8 string.
 *
 * @example
 * ```ts
 * await sha256Hex(""); // "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
 * ```
 */
export async function sha256Hex(text: string): Promise<string> {
  return toHex(await subtle().digest("SHA-256", encoder.encode(text)));
}

/**
 * Hex HMAC-SHA256 of `message` under `secret` (both UTF-8).
 *
 * @example
 * ```ts
 * const sig = await hmacSha256Hex("hk_secret", "1763719200\nabcd\nGET\n/v1/app\n" + (await sha256Hex("")));
 * ```
 */
export async function hmacSha256Hex(secret: string, message: string): Promise<string> {
  const key = await subtle().importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return toHex(await subtle().sign("HMAC", key, encoder.encode(message)));
}

/**
 * The string that is signed: `ts \n nonce \n METHOD \n pathWithQuery \n sha256hex(body)`.
 *
 * @example
 * ```ts
 * await hmacCanonicalString(1763719200, "abcd", { method: "POST", pathWithQuery: "/v1/credits/grant", body: "{}" });
 * ```
 */
export async function hmacCanonicalString(ts: number, nonce: string, input: AuthInput): Promise<string> {
  return `${ts}\n${nonce}\n${input.method.toUpperCase()}\n${input.pathWithQuery}\n${await sha256Hex(input.body)}`;
}

/**
 * Builds the `Authorization` header for one request. `now` and `nonce` are injectable for tests.
 *
 * @example
 * ```ts
 * const header = await signRequest({ keyId: "key_123", secret: "s3cret" }, { method: "GET", pathWithQuery: "/v1/app", body: "" });
 * // "Tally-HMAC keyId=key_123, ts=1763719200, nonce=…, sig=…"
 * ```
 */
export async function signRequest(
  credentials: { keyId: string; secret: string },
  input: AuthInput,
  overrides: { nowMs?: number; nonce?: string } = {},
): Promise<string> {
  const ts = Math.floor((overrides.nowMs ?? Date.now()) / 1000);
  subtle(); // fail with the clear error before anything else
  const nonce = overrides.nonce ?? toHex(randomBytes(16));
  const sig = await hmacSha256Hex(credentials.secret, await hmacCanonicalString(ts, nonce, input));
  return `Tally-HMAC keyId=${credentials.keyId}, ts=${ts}, nonce=${nonce}, sig=${sig}`;
}

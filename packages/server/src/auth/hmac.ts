import { createHash, createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** How far a signed request's timestamp may be from the server's clock, either way. */
export const HMAC_WINDOW_SECONDS = 300;

export interface HmacAuthorization {
  keyId: string;
  /** The timestamp exactly as sent (it is part of the signed string). */
  ts: string;
  nonce: string;
  /** Lower-case hex. */
  sig: string;
}

const SCHEME = "Tally-HMAC";

export function isHmacAuthorization(header: string | undefined): boolean {
  return header !== undefined && header.startsWith(`${SCHEME} `);
}

/**
 * Parses `Tally-HMAC keyId=key_…, ts=<unix s>, nonce=<random>, sig=<hex>`. Every part must be
 * present exactly once and well formed; anything else is undefined (→ 401).
 */
export function parseHmacAuthorization(header: string): HmacAuthorization | undefined {
  if (!isHmacAuthorization(header) || header.length > 1024) return undefined;
  const parts = new Map<string, string>();
  for (const part of header.slice(SCHEME.length + 1).split(",")) {
    const m = /^\s*([A-Za-z]+)=([^\s,]+)\s*$/.exec(part);
    if (m === null || parts.has(m[1]!)) return undefined;
    parts.set(m[1]!, m[2]!);
  }
  const keyId = parts.get("keyId");
  const ts = parts.get("ts");
  const nonce = parts.get("nonce");
  const sig = parts.get("sig");
  if (parts.size !== 4 || keyId === undefined || ts === undefined || nonce === undefined || sig === undefined) return undefined;
  if (!/^key_[0-9A-HJKMNP-TV-Z]{26}$/.test(keyId)) return undefined;
  if (!/^\d{1,12}$/.test(ts)) return undefined;
  if (!/^[A-Za-z0-9_-]{8,128}$/.test(nonce)) return undefined;
  if (!/^[0-9a-fA-F]{64}$/.test(sig)) return undefined;
  return { keyId, ts, nonce, sig: sig.toLowerCase() };
}

export function sha256HexOf(body: string): string {
  return createHash("sha256").update(body, "utf8").digest("hex");
}

/** The string that is signed: `ts \n nonce \n METHOD \n pathWithQuery \n sha256hex(body)`. */
export function hmacCanonicalString(ts: string, nonce: string, method: string, pathWithQuery: string, body: string): string {
  return `${ts}\n${nonce}\n${method.toUpperCase()}\n${pathWithQuery}\n${sha256HexOf(body)}`;
}

export function hmacSignatureHex(secret: string, canonical: string): string {
  return createHmac("sha256", secret).update(canonical, "utf8").digest("hex");
}

/** Constant-time comparison of two hex signatures of equal length. */
export function signaturesMatch(expectedHex: string, givenHex: string): boolean {
  const a = Buffer.from(expectedHex, "hex");
  const b = Buffer.from(givenHex, "hex");
  return a.length === 32 && b.length === 32 && timingSafeEqual(a, b);
}

/**
 * Builds the header for a request, as the SDK does; for tests and scripts.
 *
 * @example
 * ```ts
 * const authorization = signHmacRequest({ keyId: "key_…", secret: "hk_…" }, "POST", "/v1/credits/grant", JSON.stringify(body));
 * ```
 */
export function signHmacRequest(
  credentials: { keyId: string; secret: string },
  method: string,
  pathWithQuery: string,
  body: string,
  options: { nowMs?: number; nonce?: string } = {},
): string {
  const ts = String(Math.floor((options.nowMs ?? Date.now()) / 1000));
  const nonce = options.nonce ?? randomBytes(16).toString("hex");
  const sig = hmacSignatureHex(credentials.secret, hmacCanonicalString(ts, nonce, method, pathWithQuery, body));
  return `${SCHEME} keyId=${credentials.keyId}, ts=${ts}, nonce=${nonce}, sig=${sig}`;
}

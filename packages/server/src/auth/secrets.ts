import * as crypto from "node:crypto";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/**
 * Key formats. A secret key names its application inside itself (`sk_<app ulid>_<secret>`), so
 * looking it up is one indexed read scoped by application, like every other query.
 * Keys have 256 bits of entropy, so a plain SHA-256 is a safe one-way hash: a database dump holds
 * no working key, and no slow KDF is needed on the hot path.
 */
export function randomSecret(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

// crypto.hash (Node ≥ 20.12) hashes in one call, about twice as fast as createHash for a key.
const oneShotHash = (crypto as { hash?: (algorithm: string, data: string, encoding: "hex") => string }).hash;

export function sha256Hex(value: string): string {
  return oneShotHash !== undefined ? oneShotHash("sha256", value, "hex") : createHash("sha256").update(value).digest("hex");
}

/** Compares two strings in time independent of where they differ. */
export function safeEqual(a: string, b: string): boolean {
  const ha = createHash("sha256").update(a).digest();
  const hb = createHash("sha256").update(b).digest();
  return timingSafeEqual(ha, hb) && a.length === b.length;
}

/** Characters in a secret key: `sk_`, 26 of the app id, `_`, 43 of base64url secret. */
export const SECRET_KEY_LENGTH = 3 + 26 + 1 + 43;

export function makeSecretKey(appId: string): string {
  return `sk_${appId.slice("app_".length)}_${randomSecret()}`;
}

/** The application a secret key belongs to, or undefined if it is not shaped like one. */
export function appIdOfSecretKey(key: string): string | undefined {
  const m = /^sk_([0-9A-HJKMNP-TV-Z]{26})_[A-Za-z0-9_-]{43}$/.exec(key);
  return m === null ? undefined : `app_${m[1]}`;
}

export function makeAdminToken(): string {
  return `tadm_${randomSecret()}`;
}

export function keyHint(key: string): string {
  return key.slice(-4);
}

/**
 * The secret of an HMAC key: `hk_<key ulid>_` + 256 random bits. It names its key id, as a
 * secret key names its application, so a client given only the secret can sign (the SDK's
 * `new Tally({ apiKey: "hk_…" })`); the id is not secret, since every signed request sends it.
 * Never sent over the wire after creation.
 */
export function makeHmacSecret(keyId: string): string {
  return `hk_${keyId.slice("key_".length)}_${randomSecret()}`;
}

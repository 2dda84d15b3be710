import type { Database } from "../store/sql.ts";
import type { Clock } from "../domain/clock.ts";
import { TallyError } from "../domain/errors.ts";
import { findApiKeyByHash, findApiKeyById, touchApiKey } from "../store/repo/api-keys.ts";
import { getApp, getSetting } from "../store/repo/apps.ts";
import { deleteExpiredNonces, recordNonce } from "../store/repo/hmac-nonces.ts";
import type { ApiKeyRecord } from "../store/records.ts";
import { ApiKeyCache } from "./key-cache.ts";
import { SECRET_KEY_LENGTH, appIdOfSecretKey, safeEqual, sha256Hex } from "./secrets.ts";
import type { Principal } from "./principal.ts";
import { sealContext, type SecretSealer } from "./sealing.ts";
import { EndUserVerifier, looksLikeJwt } from "./end-user.ts";
import { HMAC_WINDOW_SECONDS, hmacCanonicalString, hmacSignatureHex, parseHmacAuthorization, signaturesMatch } from "./hmac.ts";

export interface AuthConfig {
  /** From TALLY_ADMIN_TOKEN; when unset, the hash stored at first start is used. */
  readonly adminToken: string | undefined;
  /** How long a live secret key is served from memory (default 1000 ms; 0: read it every time). */
  readonly keyCacheTtlMs?: number | undefined;
}

const BEARER = /^Bearer ([\x21-\x7e]+)$/;
/** `Bearer sk_<26 characters of the app's id>_<43 random characters>`. */
const BEARER_SECRET_KEY_LENGTH = "Bearer ".length + SECRET_KEY_LENGTH;

/** The token of `Authorization: Bearer <token>`, or undefined for any other shape. */
function bearerToken(header: string): string | undefined {
  return BEARER.exec(header)?.[1];
}

export function unauthenticated(message = "Missing or invalid credentials"): TallyError {
  return new TallyError("UNAUTHENTICATED", message, undefined, { "www-authenticate": 'Bearer realm="tally"' });
}

/** What an HMAC signature covers, besides the timestamp and nonce. */
export interface SignedRequest {
  method: string;
  /** The request target exactly as sent: path and query string. */
  pathWithQuery: string;
  /** The raw body text ("" when there is none). */
  body: string;
}

// How often `last_used_at` is written per key: often enough to tell a live key from a dead one
// before rotating it, rarely enough to add no write to the hot path.
const TOUCH_INTERVAL_MS = 60_000;

/**
 * Establishes the principal from the Authorization header. Unknown, malformed and revoked
 * credentials are all the same 401, so probing reveals nothing. Live secret keys are cached per
 * process (see ApiKeyCache for how a revocation still holds on the next request).
 */
export class Authenticator {
  private adminHash: string | undefined;
  private readonly endUsers: EndUserVerifier;
  private readonly touchedAtMs = new Map<string, number>();
  private lastNonceCleanupMs = 0;
  private readonly keys: ApiKeyCache;

  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
    private readonly config: AuthConfig,
    private readonly sealer?: SecretSealer,
  ) {
    this.endUsers = new EndUserVerifier(db, sealer !== undefined ? { sealer } : {});
    this.keys = new ApiKeyCache(db, config.keyCacheTtlMs);
  }

  /** Call after any key is revoked, before answering: no cached copy may outlive it. */
  forgetKeys(): void {
    this.keys.forget();
  }

  async close(): Promise<void> {
    await this.keys.close();
  }

  async load(): Promise<void> {
    if (this.config.adminToken === undefined) this.adminHash = await this.db.read((q) => getSetting(q, "admin_token_hash"));
  }

  private isAdmin(token: string): boolean {
    if (this.config.adminToken !== undefined) return safeEqual(token, this.config.adminToken);
    return this.adminHash !== undefined && safeEqual(sha256Hex(token), this.adminHash);
  }

  /**
   * The principal of a live secret key held in the cache, found without awaiting anything: the
   * hot path of every request. Undefined when the credential is anything else, or a key that must
   * be looked up; `authenticate` then decides. No pattern is matched here (two regular
   * expressions cost ~8,000 instructions a request, more than the rest of this): the cache holds
   * only keys that `authenticate` checked in full, and it is keyed by the hash of the exact
   * token, so a hit proves the token is one of them, character for character.
   */
  cachedPrincipal(header: string | undefined): Principal | undefined {
    if (header === undefined || header.length !== BEARER_SECRET_KEY_LENGTH || !header.startsWith("Bearer sk_")) return undefined;
    // Monotonic time: the cache's freshness has nothing to do with the ledger's clock.
    const key = this.keys.get(sha256Hex(header.slice("Bearer ".length)), performance.now());
    if (key === undefined) return undefined;
    this.touch(key);
    return { kind: "key", appId: key.appId, keyId: key.id, keyType: "secret", scopes: key.scopes };
  }

  /**
   * `Authorization: Bearer …` with a secret key, the admin token or an end-user JWT. `appHint`
   * is the `tally-app` header, which may name the application of an end-user token.
   */
  async authenticate(header: string | undefined, appHint?: string): Promise<Principal> {
    if (header === undefined || header.length === 0) throw unauthenticated("Missing Authorization header");
    if (header.length > 8192) throw unauthenticated();
    const token = bearerToken(header);
    if (token === undefined) throw unauthenticated("Authorization must be `Bearer <key or token>` or `Tally-HMAC …`");
    if (token.startsWith("sk_")) {
      const appId = appIdOfSecretKey(token);
      if (appId === undefined) throw unauthenticated();
      const secretHash = sha256Hex(token);
      const nowMs = performance.now();
      let key = this.keys.get(secretHash, nowMs);
      if (key === undefined) {
        const generation = this.keys.currentGeneration;
        key = await this.db.read((q) => findApiKeyByHash(q, appId, secretHash));
        if (key === undefined || key.revokedAtMs !== null || key.type !== "secret" || key.appId !== appId) throw unauthenticated();
        this.keys.put(secretHash, key, nowMs, generation);
      }
      this.touch(key);
      return { kind: "key", appId, keyId: key.id, keyType: "secret", scopes: key.scopes };
    }
    if (this.isAdmin(token)) return { kind: "admin" };
    if (looksLikeJwt(token)) {
      const { appId, subject } = await this.endUsers.verify(token, appHint);
      return { kind: "endUser", appId, subject };
    }
    throw unauthenticated();
  }

  /**
   * `Authorization: Tally-HMAC keyId=…, ts=…, nonce=…, sig=…`, checked in this order: shape,
   * timestamp within ±300 s, a live HMAC key, the signature (constant time), then the nonce,
   * recorded in the database so a replay is refused by every process. The nonce is recorded only
   * for a valid signature, so nobody without the secret can burn nonces.
   */
  async authenticateHmac(header: string, request: SignedRequest): Promise<Principal> {
    const auth = parseHmacAuthorization(header);
    if (auth === undefined) throw unauthenticated("Malformed Tally-HMAC authorization: keyId=key_…, ts=<unix seconds>, nonce=<8–128 of [A-Za-z0-9_-]>, sig=<64 hex>");
    // Freshness is wall-clock time, whatever clock the ledger runs on: it is about the network.
    const nowMs = Date.now();
    const tsSeconds = Number(auth.ts);
    if (Math.abs(nowMs / 1000 - tsSeconds) > HMAC_WINDOW_SECONDS) throw unauthenticated(`The signature's timestamp is more than ${HMAC_WINDOW_SECONDS} s from the server's clock`);
    const key = await this.db.read((q) => findApiKeyById(q, auth.keyId));
    if (key === undefined || key.revokedAtMs !== null || key.type !== "hmac" || key.secretSealed === null || this.sealer === undefined) throw unauthenticated();
    const secret = this.sealer.open(key.secretSealed, sealContext(key.appId, key.id));
    if (secret === undefined) throw unauthenticated("This HMAC key cannot be verified by this server (sealed under another TALLY_SECRET_KEY)");
    const expected = hmacSignatureHex(secret, hmacCanonicalString(auth.ts, auth.nonce, request.method, request.pathWithQuery, request.body));
    if (!signaturesMatch(expected, auth.sig)) throw unauthenticated("The request signature does not match");
    const fresh = await this.db.transaction(async (tx) => {
      if (nowMs - this.lastNonceCleanupMs > 60_000) {
        this.lastNonceCleanupMs = nowMs;
        await deleteExpiredNonces(tx, nowMs);
      }
      return recordNonce(tx, key.appId, key.id, auth.nonce, (tsSeconds + HMAC_WINDOW_SECONDS) * 1000 + 1000);
    }, { label: "hmac-nonce" });
    if (!fresh) throw unauthenticated("This nonce was already used (replayed request)");
    this.touch(key);
    return { kind: "key", appId: key.appId, keyId: key.id, keyType: "hmac", scopes: key.scopes };
  }

  /** Records when a key was last used, at most once a minute per key and process, off the request's path. */
  private touch(key: ApiKeyRecord): void {
    const now = this.clock.nowMs();
    const last = this.touchedAtMs.get(key.id) ?? key.lastUsedAtMs ?? 0;
    if (Math.abs(now - last) < TOUCH_INTERVAL_MS) return;
    if (this.touchedAtMs.size >= 10_000) this.touchedAtMs.clear();
    this.touchedAtMs.set(key.id, now);
    this.db.transaction((tx) => touchApiKey(tx, key.appId, key.id, now), { label: "touch-key" }).catch(() => undefined);
  }

  /** For the admin token acting on one application (the `tally-app` header). */
  async appExists(appId: string): Promise<boolean> {
    return (await this.db.read((q) => getApp(q, appId))) !== undefined;
  }

  get nowMs(): number {
    return this.clock.nowMs();
  }
}

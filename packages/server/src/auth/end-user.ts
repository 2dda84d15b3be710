import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, importSPKI, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import type { Database } from "../store/sql.ts";
import type { AppRecord, EndUserAuthConfig } from "../store/records.ts";
import { findAppsByEndUserIssuer, getApp, listApps } from "../store/repo/apps.ts";
import { TallyError } from "../domain/errors.ts";
import { endUserSealContext } from "../domain/apps.ts";
import type { SecretSealer } from "./sealing.ts";

/** The claim a token may carry to name its Tally application explicitly. */
export const APP_CLAIM = "tally_app";

/** How many applications a token that names none may be tried against (a self-hosted install has few). */
const LOCAL_KEY_CANDIDATES_MAX = 200;

/** Seconds of clock skew allowed on `exp` and `nbf`. */
export const CLOCK_TOLERANCE_SECONDS = 5;

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** True when a bearer credential is shaped like a compact JWS (header.payload.signature). */
export function looksLikeJwt(token: string): boolean {
  return token.length <= 8192 && JWT_SHAPE.test(token);
}

export interface EndUserIdentity {
  appId: string;
  /** The value of the application's subject claim: the account's `externalId`. */
  subject: string;
}

function reject(message: string): TallyError {
  return new TallyError("UNAUTHENTICATED", message, undefined, { "www-authenticate": 'Bearer realm="tally", error="invalid_token"' });
}

/**
 * Verifies end-user tokens (JWTs) against the configuration of the application they belong to.
 *
 * Which application: the token's `tally_app` claim (or the request's `tally-app` header) names
 * it; without one, the token's `iss` must equal the `issuer` configured on exactly one
 * application (narrowed by `aud` when several share an issuer). The unverified claims only pick
 * which application's key to verify with; nothing is trusted until the signature, algorithm,
 * `exp`/`nbf` and the configured issuer and audience have been checked with `jose`.
 *
 * @example
 * ```ts
 * const verifier = new EndUserVerifier(db);
 * const { appId, subject } = await verifier.verify(jwt, undefined);
 * ```
 */
export class EndUserVerifier {
  private readonly publicKeys = new Map<string, Promise<CryptoKey>>();
  private readonly jwksSets = new Map<string, JWTVerifyGetKey>();

  constructor(
    private readonly db: Database,
    private readonly options: { jwksCooldownMs?: number; sealer?: SecretSealer } = {},
  ) {}

  async verify(token: string, appHint: string | undefined): Promise<EndUserIdentity> {
    let claims: JWTPayload;
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
      claims = decodeJwt(token);
    } catch {
      throw reject("Malformed token");
    }
    if (alg === undefined || alg === "none") throw reject("Unsigned tokens are not accepted");
    let app: AppRecord;
    try {
      app = await this.findApp(claims, appHint);
    } catch (error) {
      // A token that names no application and whose issuer picks none (API.md's TallyUserClient
      // takes only a token): see which application's own key verifies it.
      if (claims[APP_CLAIM] !== undefined || appHint !== undefined) throw error;
      return this.verifyAgainstLocalKeys(token, claims, alg);
    }
    return this.verifyWith(token, app, alg);
  }

  /**
   * The fallback for tokens that name no application: the applications whose end-user key is
   * held locally (an HS256 secret or a PEM public key; never a JWKS URL, so unauthenticated input
   * cannot make the server fetch anything) and whose configured issuer, if any, matches. The
   * token is accepted only if exactly one of them verifies its signature and claims.
   */
  private async verifyAgainstLocalKeys(token: string, claims: JWTPayload, alg: string): Promise<EndUserIdentity> {
    const apps = await this.db.read((q) => listApps(q, LOCAL_KEY_CANDIDATES_MAX + 1));
    const candidates = apps.filter((a) => {
      const c = a.endUserAuth;
      return c !== null && c.algorithm === alg && c.jwksUrl === undefined && (c.issuer === undefined || c.issuer === claims.iss);
    });
    if (candidates.length === 0) throw reject(`The token names no application: add a ${APP_CLAIM} claim, or configure its issuer on the application`);
    if (apps.length > LOCAL_KEY_CANDIDATES_MAX) throw reject(`Too many applications to search: add a ${APP_CLAIM} claim to the token`);
    const verified: EndUserIdentity[] = [];
    for (const candidate of candidates) {
      try {
        verified.push(await this.verifyWith(token, candidate, alg));
      } catch (error) {
        if (!(error instanceof TallyError) || error.code !== "UNAUTHENTICATED") throw error;
      }
    }
    if (verified.length !== 1) {
      throw reject(verified.length === 0 ? "Invalid token" : `Several applications accept this token: add a ${APP_CLAIM} claim`);
    }
    return verified[0]!;
  }

  private async verifyWith(token: string, app: AppRecord, alg: string): Promise<EndUserIdentity> {
    const config = app.endUserAuth;
    if (config === null) throw reject("This application does not accept end-user tokens");
    if (alg !== config.algorithm) throw reject(`This application's tokens are signed with ${config.algorithm}`);

    let payload: JWTPayload;
    try {
      const verified = await jwtVerify(token, await this.keyFor(app, config), {
        algorithms: [config.algorithm],
        requiredClaims: ["exp"],
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
        ...(config.issuer !== undefined ? { issuer: config.issuer } : {}),
        ...(config.audience !== undefined ? { audience: config.audience } : {}),
      });
      payload = verified.payload;
    } catch (error) {
      throw this.verificationError(error, config.jwksUrl !== undefined);
    }
    const subject = payload[config.subjectClaim];
    if (typeof subject !== "string" || subject.length === 0 || subject.length > 255) {
      throw reject(`The token's ${JSON.stringify(config.subjectClaim)} claim must be a non-empty string`);
    }
    return { appId: app.id, subject };
  }

  private async findApp(claims: JWTPayload, appHint: string | undefined): Promise<AppRecord> {
    const claimed = claims[APP_CLAIM];
    if (claimed !== undefined && typeof claimed !== "string") throw reject(`The ${APP_CLAIM} claim must be a string`);
    if (claimed !== undefined && appHint !== undefined && claimed !== appHint) throw reject(`The ${APP_CLAIM} claim and the tally-app header disagree`);
    const named = claimed ?? appHint;
    if (named !== undefined) {
      const app = /^app_[0-9A-HJKMNP-TV-Z]{26}$/.test(named) ? await this.db.read((q) => getApp(q, named)) : undefined;
      if (app === undefined) throw reject("Unknown application");
      return app;
    }
    if (typeof claims.iss !== "string" || claims.iss.length === 0 || claims.iss.length > 512) {
      throw reject(`The token names no application: add a ${APP_CLAIM} claim, or configure its issuer on the application`);
    }
    const issuer = claims.iss;
    let candidates = await this.db.read((q) => findAppsByEndUserIssuer(q, issuer));
    if (candidates.length > 1) {
      const audiences = claims.aud === undefined ? [] : Array.isArray(claims.aud) ? claims.aud : [claims.aud];
      candidates = candidates.filter((a) => a.endUserAuth?.audience !== undefined && audiences.includes(a.endUserAuth.audience));
    }
    if (candidates.length !== 1) {
      throw reject(
        candidates.length === 0
          ? "No application accepts tokens from this issuer"
          : `Several applications accept tokens from this issuer: add a ${APP_CLAIM} claim or give each a distinct audience`,
      );
    }
    return candidates[0]!;
  }

  private async keyFor(app: AppRecord, config: EndUserAuthConfig): Promise<Uint8Array | CryptoKey | JWTVerifyGetKey> {
    if (config.secret !== undefined) return new TextEncoder().encode(config.secret);
    if (config.secretSealed !== undefined) {
      const secret = this.options.sealer?.open(config.secretSealed, endUserSealContext(app.id));
      if (secret === undefined) throw reject("This server cannot open the application's end-user secret (sealed under another TALLY_SECRET_KEY)");
      return new TextEncoder().encode(secret);
    }
    if (config.publicKey !== undefined) {
      // Keyed by the configuration's last change, so a new key takes effect on the next request.
      const cacheKey = `${app.id}@${app.updatedAtMs}`;
      let key = this.publicKeys.get(cacheKey);
      if (key === undefined) {
        key = importSPKI(config.publicKey, config.algorithm);
        key.catch(() => this.publicKeys.delete(cacheKey));
        this.remember(this.publicKeys, cacheKey, key);
      }
      try {
        return await key;
      } catch {
        throw reject("The application's end-user public key could not be loaded (PEM, SPKI)");
      }
    }
    if (config.jwksUrl !== undefined) {
      // One remote set per URL: jose caches its keys and refetches (at most every 30 s) when a
      // token names a `kid` it does not know, which is how key rotation is picked up.
      let set = this.jwksSets.get(config.jwksUrl);
      if (set === undefined) {
        set = createRemoteJWKSet(new URL(config.jwksUrl), { timeoutDuration: 5000, cooldownDuration: this.options.jwksCooldownMs ?? 30_000, cacheMaxAge: 10 * 60_000 });
        this.remember(this.jwksSets, config.jwksUrl, set);
      }
      return set;
    }
    throw reject("The application's end-user configuration has no key");
  }

  /** Bounded caches: the oldest entry goes when full. */
  private remember<V>(map: Map<string, V>, key: string, value: V): void {
    if (map.size >= 1000) map.delete(map.keys().next().value!);
    map.set(key, value);
  }

  private verificationError(error: unknown, remote: boolean): TallyError {
    if (error instanceof TallyError) return error;
    // Fetching the JWKS failed (timeout, connection refused): not the token's fault, so retryable.
    if (remote && (error instanceof errors.JWKSTimeout || !(error instanceof errors.JOSEError))) {
      return new TallyError("UNAVAILABLE", "The application's JWKS could not be fetched; retry shortly", undefined, { "retry-after": "5" });
    }
    if (error instanceof errors.JWTExpired) return reject("The token has expired");
    if (error instanceof errors.JWTClaimValidationFailed) return reject(`The token's ${error.claim} claim is not acceptable`);
    if (error instanceof errors.JWSSignatureVerificationFailed) return reject("The token's signature is not valid");
    if (error instanceof errors.JOSEAlgNotAllowed) return reject("The token's algorithm is not accepted");
    return reject("The token is not valid");
  }
}

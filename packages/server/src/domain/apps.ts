import type { Database, Sql } from "../store/sql.ts";
import type { ApiKeyRecord, AppRecord, EndUserAuthConfig, KeyScope } from "../store/records.ts";
import * as apps from "../store/repo/apps.ts";
import * as keys from "../store/repo/api-keys.ts";
import { keyHint, makeAdminToken, makeHmacSecret, makeSecretKey, sha256Hex } from "../auth/secrets.ts";
import { sealContext, type SecretSealer } from "../auth/sealing.ts";
import { importSPKI } from "jose";
import { newId } from "./ids.ts";
import { notFound, TallyError, validationError } from "./errors.ts";
import type { Clock } from "./clock.ts";

export const ALL_SCOPES: readonly KeyScope[] = ["read", "write", "admin"];

export interface CreatedKey {
  apiKey: ApiKeyRecord;
  /** The plain secret key (`sk_…`), shown once; for an HMAC key, its secret (`hk_…`). */
  key: string;
}

/** Creates an application and its first secret key (all scopes). */
export async function createApp(db: Database, clock: Clock, name: string): Promise<{ app: AppRecord; secretKey: string; apiKey: ApiKeyRecord }> {
  return db.transaction((tx) => createAppIn(tx, newId("app", clock.nowMs()), name, clock.nowMs()));
}

async function createAppIn(tx: Sql, appId: string, name: string, nowMs: number): Promise<{ app: AppRecord; secretKey: string; apiKey: ApiKeyRecord }> {
  const app: AppRecord = { id: appId, name, endUserAuth: null, createdAtMs: nowMs, updatedAtMs: nowMs };
  await apps.insertApp(tx, app);
  const { apiKey, key } = newSecretKey(app.id, "Default secret key", ALL_SCOPES, nowMs);
  await keys.insertApiKey(tx, apiKey);
  return { app, secretKey: key, apiKey };
}

function newSecretKey(appId: string, name: string, scopes: readonly KeyScope[], nowMs: number): CreatedKey {
  const key = makeSecretKey(appId);
  const apiKey: ApiKeyRecord = {
    appId,
    id: newId("apiKey", nowMs),
    name,
    type: "secret",
    scopes: [...scopes],
    secretHash: sha256Hex(key),
    secretSealed: null,
    hint: keyHint(key),
    createdAtMs: nowMs,
    revokedAtMs: null,
    lastUsedAtMs: null,
  };
  return { apiKey, key };
}

/**
 * An HMAC key: the server must compute signatures with its secret, so the secret is stored
 * sealed (AES-256-GCM under the server's master key, bound to the key's id) rather than hashed;
 * the hash column holds a SHA-256 of it only to keep the column's uniqueness meaningful.
 */
function newHmacKey(appId: string, name: string, scopes: readonly KeyScope[], nowMs: number, sealer: SecretSealer): CreatedKey {
  const id = newId("apiKey", nowMs);
  const secret = makeHmacSecret(id);
  const apiKey: ApiKeyRecord = {
    appId,
    id,
    name,
    type: "hmac",
    scopes: [...scopes],
    secretHash: sha256Hex(secret),
    secretSealed: sealer.seal(secret, sealContext(appId, id)),
    hint: keyHint(secret),
    createdAtMs: nowMs,
    revokedAtMs: null,
    lastUsedAtMs: null,
  };
  return { apiKey, key: secret };
}

/**
 * Creates a secret key (`sk_…`) or an HMAC key (id `key_…` + secret `hk_…`), with all scopes
 * unless `scopes` narrows them. HMAC keys need the server's `sealer`.
 *
 * @example
 * ```ts
 * const { apiKey, key } = await createApiKey(db, clock, appId, { name: "reporting", type: "secret", scopes: ["read"] });
 * ```
 */
export async function createApiKey(
  db: Database,
  clock: Clock,
  appId: string,
  input: { name: string; type: "secret" | "hmac"; scopes?: readonly KeyScope[] | undefined },
  sealer?: SecretSealer,
): Promise<CreatedKey> {
  const scopes = input.scopes === undefined || input.scopes.length === 0 ? ALL_SCOPES : [...new Set(input.scopes)];
  if (input.type === "hmac" && sealer === undefined) throw new Error("creating an HMAC key needs the server's SecretSealer");
  return db.transaction(async (tx) => {
    const nowMs = clock.nowMs();
    const created = input.type === "hmac" ? newHmacKey(appId, input.name, scopes, nowMs, sealer!) : newSecretKey(appId, input.name, scopes, nowMs);
    await keys.insertApiKey(tx, created.apiKey);
    return created;
  });
}

export async function listApiKeys(db: Database, appId: string, page: { beforeId?: string | undefined; limit: number }): Promise<ApiKeyRecord[]> {
  return db.read((q) => keys.listApiKeys(q, appId, page));
}

export async function revokeApiKey(db: Database, clock: Clock, appId: string, keyId: string): Promise<ApiKeyRecord> {
  return db.transaction(async (tx) => {
    const key = await keys.getApiKey(tx, appId, keyId);
    if (key === undefined) throw notFound("NOT_FOUND", "API key", keyId);
    await keys.revokeApiKey(tx, appId, keyId, clock.nowMs());
    const after = await keys.getApiKey(tx, appId, keyId);
    return after!;
  });
}

export async function getAppRecord(db: Database, appId: string): Promise<AppRecord> {
  const app = await db.read((q) => apps.getApp(q, appId));
  if (app === undefined) throw notFound("NOT_FOUND", "application", appId);
  return app;
}

export async function updateApp(
  db: Database,
  clock: Clock,
  appId: string,
  input: { name?: string | undefined; endUserAuth?: (Omit<EndUserAuthConfig, "subjectClaim" | "secretSealed"> & { subjectClaim?: string | undefined }) | null | undefined },
  sealer?: SecretSealer,
): Promise<AppRecord> {
  let endUserAuth: EndUserAuthConfig | null | undefined;
  if (input.endUserAuth === null) endUserAuth = null;
  else if (input.endUserAuth !== undefined) {
    const e = input.endUserAuth;
    const material = [e.secret, e.publicKey, e.jwksUrl].filter((v) => v !== undefined).length;
    if (material !== 1) throw validationError("/endUserAuth", "give exactly one of secret, publicKey and jwksUrl");
    if (e.algorithm === "HS256" && e.secret === undefined) throw validationError("/endUserAuth/secret", "HS256 needs a secret");
    if (e.algorithm !== "HS256" && e.secret !== undefined) throw validationError("/endUserAuth/secret", `${e.algorithm} takes a publicKey or jwksUrl, not a secret`);
    if (e.publicKey !== undefined) {
      // Refused now rather than on every end-user request afterwards.
      await importSPKI(e.publicKey, e.algorithm).catch(() => {
        throw validationError("/endUserAuth/publicKey", `is not a PEM-encoded SPKI public key usable with ${e.algorithm} (-----BEGIN PUBLIC KEY-----)`);
      });
    }
    if (e.jwksUrl !== undefined && !/^https?:\/\//i.test(e.jwksUrl)) throw validationError("/endUserAuth/jwksUrl", "must be an http(s) URL");
    endUserAuth = { ...stripUndefined(e), subjectClaim: e.subjectClaim ?? "sub" } as EndUserAuthConfig;
    // The HS256 secret lets whoever holds it mint end-user tokens: sealed like HMAC secrets,
    // so a database dump does not yield it.
    if (endUserAuth.secret !== undefined && sealer !== undefined) {
      const { secret, ...rest } = endUserAuth;
      endUserAuth = { ...rest, secretSealed: sealer.seal(secret, endUserSealContext(appId)) };
    }
  }
  return db.transaction(async (tx) => {
    const app = await apps.getApp(tx, appId);
    if (app === undefined) throw notFound("NOT_FOUND", "application", appId);
    const next: AppRecord = {
      ...app,
      name: input.name ?? app.name,
      endUserAuth: endUserAuth === undefined ? app.endUserAuth : endUserAuth,
      updatedAtMs: clock.nowMs(),
    };
    await apps.updateApp(tx, next);
    return next;
  });
}

/** What a sealed end-user HS256 secret is bound to. */
export function endUserSealContext(appId: string): string {
  return `end_user_auth:${appId}`;
}

function stripUndefined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

export interface BootstrapResult {
  /** The admin token, when this start created it (print once). */
  adminToken?: string;
  /** The first application and its key, when this start created them (print once). */
  firstApp?: { appId: string; secretKey: string };
}

/**
 * First start with nothing configured: create the admin token (unless TALLY_ADMIN_TOKEN is set)
 * and a first application with a secret key, to be printed once. Later starts do nothing. Safe
 * when several processes start at once: a setting row decides which one creates them.
 */
export async function bootstrap(db: Database, clock: Clock, configuredAdminToken: string | undefined): Promise<BootstrapResult> {
  const result: BootstrapResult = {};
  if (configuredAdminToken === undefined) {
    const token = makeAdminToken();
    const hash = sha256Hex(token);
    const stored = await db.transaction((tx) => apps.initSetting(tx, "admin_token_hash", hash));
    if (stored === hash) result.adminToken = token;
  }
  const candidate = newId("app", clock.nowMs());
  const first = await db.transaction(async (tx) => {
    if ((await apps.countApps(tx)) > 0) return undefined;
    if ((await apps.initSetting(tx, "first_app_id", candidate)) !== candidate) return undefined;
    return createAppIn(tx, candidate, "Default application", clock.nowMs());
  });
  if (first !== undefined) result.firstApp = { appId: first.app.id, secretKey: first.secretKey };
  return result;
}

import type { PageParams } from "../core/pagination.js";
import type { Timestamp } from "./common.js";

/** End-user token verification, as shown (secrets are never returned). */
export interface EndUserAuthInfo {
  algorithm: string;
  subjectClaim: string;
  issuer?: string;
  audience?: string;
  jwksUrl?: string;
  hasSecret: boolean;
  hasPublicKey: boolean;
}

/** An application: a namespace with its own keys, accounts and catalog. */
export interface App {
  id: string;
  name: string;
  endUserAuth: EndUserAuthInfo | null;
  createdAt: Timestamp;
}

/** How end-user JWTs are verified (`PATCH /v1/app`). */
export interface EndUserAuthConfig {
  algorithm: "HS256" | "RS256" | "ES256";
  /** HS256 shared secret. */
  secret?: string;
  /** RS256/ES256 public key (PEM). */
  publicKey?: string;
  jwksUrl?: string;
  /** Default `sub`: the claim holding the account's externalId. */
  subjectClaim?: string;
  issuer?: string;
  audience?: string;
}

/** Body of `PATCH /v1/app`. */
export interface AppUpdateParams {
  name?: string;
  endUserAuth?: EndUserAuthConfig | null;
}

/** Body of `POST /v1/apps` (admin token). */
export interface AppCreateParams {
  name: string;
}

/** Result of `POST /v1/apps`: the plain secret key is shown only here. */
export interface AppCreateResult {
  app: App;
  secretKey: string;
}

/** Permissions of a key. */
export type ApiKeyScope = "read" | "write" | "admin";

/** An API key (never with its secret). */
export interface ApiKey {
  id: string;
  name: string;
  type: "secret" | "hmac";
  scopes: ApiKeyScope[];
  /** Last characters of the key, to tell keys apart. */
  hint: string;
  createdAt: Timestamp;
  revokedAt: Timestamp | null;
  lastUsedAt: Timestamp | null;
}

/** Body of `POST /v1/api-keys`. */
export interface ApiKeyCreateParams {
  name: string;
  /** Default `secret`. */
  type?: "secret" | "hmac";
  scopes?: ApiKeyScope[];
}

/**
 * Result of `POST /v1/api-keys`; the secret parts are shown only here: `key` for a secret key,
 * `keyId` + `secret` for an HMAC key.
 */
export interface ApiKeyCreateResult {
  apiKey: ApiKey;
  key?: string;
  keyId?: string;
  secret?: string;
}

/** Query of `GET /v1/api-keys`. */
export interface ApiKeyListParams extends PageParams {}

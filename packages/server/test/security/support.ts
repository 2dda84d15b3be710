import { SignJWT, type JWTPayload } from "jose";
import { signHmacRequest } from "../../src/auth/hmac.ts";
import { call, type Api, type Harness } from "../support/http.ts";

/** A fixed master key for test servers, so several processes on one database agree on it. */
export const TEST_SECRET_KEY = "test-master-key-0123456789abcdef-0123456789";

/** The HS256 secret end-user tokens of the test application are signed with. */
export const HS_SECRET = "end-user-hs256-secret-0123456789abcdef";

export const SECURITY_ENV = { TALLY_SECRET_KEY: TEST_SECRET_KEY, TALLY_RATE_LIMIT_PER_SECOND: "0" };

/** An HS256 end-user token; `claims` override the defaults (sub, tally_app, 5 minutes to live). */
export async function hsToken(appId: string, sub: string, claims: JWTPayload = {}, secret = HS_SECRET): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ tally_app: appId, sub, iat: now, exp: now + 300, ...claims })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(secret));
}

/** Calls with a `Tally-HMAC` signature over exactly what is sent. */
export async function hmacCall(
  baseUrl: string,
  credentials: { keyId: string; secret: string },
  method: string,
  path: string,
  body?: unknown,
  options: { nowMs?: number; nonce?: string; headers?: Record<string, string> } = {},
): Promise<Api> {
  const text = body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body);
  const authorization = signHmacRequest(credentials, method, path, text, options);
  return call(baseUrl, undefined, method, path, body === undefined ? undefined : text, { authorization, ...(options.headers ?? {}) });
}

/** Creates a key of the harness's application through the API. */
export async function createKey(h: Harness, body: { name?: string; type?: "secret" | "hmac"; scopes?: string[] }): Promise<{ id: string; key?: string; keyId?: string; secret?: string }> {
  const res = await h.api("POST", "/v1/api-keys", { name: body.name ?? "test key", ...body });
  if (res.status !== 201) throw new Error(`creating a key failed: ${res.status} ${res.text}`);
  return { id: res.body.apiKey.id, key: res.body.key, keyId: res.body.keyId, secret: res.body.secret };
}

/** Configures HS256 end-user tokens on the harness's application. */
export async function enableEndUsers(baseUrl: string, secretKey: string, endUserAuth: Record<string, unknown> = { algorithm: "HS256", secret: HS_SECRET }): Promise<void> {
  const res = await call(baseUrl, secretKey, "PATCH", "/v1/app", { endUserAuth });
  if (res.status !== 200) throw new Error(`configuring end-user auth failed: ${res.status} ${res.text}`);
}

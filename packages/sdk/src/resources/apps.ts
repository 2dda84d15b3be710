import type { RequestOptions } from "../core/http.js";
import type { PagePromise } from "../core/pagination.js";
import { APIResource } from "../core/resource.js";
import { seg } from "../core/util.js";
import type { ApiKey, ApiKeyCreateParams, ApiKeyCreateResult, ApiKeyListParams, App, AppCreateParams, AppCreateResult, AppUpdateParams } from "../types/apps.js";
import type { ItemList } from "../types/common.js";

/** The application the key belongs to. */
export class AppResource extends APIResource {
  /**
   * Gets this key's application.
   *
   * @example
   * ```ts
   * const app = await tally.app.get();
   * ```
   */
  get(options?: RequestOptions): Promise<App> {
    return this._http.request({ method: "GET", path: "/v1/app", options });
  }

  /**
   * Renames the application or configures end-user JWT verification.
   *
   * @example
   * ```ts
   * await tally.app.update({ endUserAuth: { algorithm: "HS256", secret: process.env.JWT_SECRET! } });
   * ```
   */
  update(params: AppUpdateParams, options?: RequestOptions): Promise<App> {
    return this._http.request({ method: "PATCH", path: "/v1/app", body: params, options });
  }
}

/** Applications (operator): needs the admin token as `apiKey`. */
export class Apps extends APIResource {
  /**
   * Creates an application and its first secret key (shown only here).
   *
   * @example
   * ```ts
   * const admin = new Tally({ apiKey: process.env.TALLY_ADMIN_TOKEN! });
   * const { app, secretKey } = await admin.apps.create({ name: "My product" });
   * ```
   */
  create(params: AppCreateParams, options?: RequestOptions): Promise<AppCreateResult> {
    return this._http.request({ method: "POST", path: "/v1/apps", body: params, options });
  }

  /**
   * Lists applications, oldest first (at most 1,000; not paginated).
   *
   * @example
   * ```ts
   * const admin = new Tally({ apiKey: process.env.TALLY_ADMIN_TOKEN! });
   * const { items } = await admin.apps.list();
   * for (const app of items) console.log(app.id, app.name);
   * ```
   */
  list(options?: RequestOptions): Promise<ItemList<App>> {
    return this._http.request({ method: "GET", path: "/v1/apps", options });
  }
}

/** API keys of this application. */
export class ApiKeys extends APIResource {
  /**
   * Creates a key: `key` (secret) or `keyId` + `secret` (HMAC) are shown only here.
   *
   * @example
   * ```ts
   * const { apiKey, key } = await tally.apiKeys.create({ name: "worker", type: "secret", scopes: ["read", "write"] });
   * const hmac = await tally.apiKeys.create({ name: "signer", type: "hmac" });
   * const signed = new Tally({ apiKey: hmac.keyId!, hmacSecret: hmac.secret! });
   * ```
   */
  create(params: ApiKeyCreateParams, options?: RequestOptions): Promise<ApiKeyCreateResult> {
    return this._http.request({ method: "POST", path: "/v1/api-keys", body: params, options });
  }

  /**
   * Lists keys (never their secrets).
   *
   * @example
   * ```ts
   * for await (const k of tally.apiKeys.list()) console.log(k.name, k.hint, k.revokedAt);
   * ```
   */
  list(params?: ApiKeyListParams, options?: RequestOptions): PagePromise<ApiKey> {
    return this._list<ApiKey, ApiKeyListParams>("/v1/api-keys", params, options);
  }

  /**
   * Revokes a key at once.
   *
   * @example
   * ```ts
   * await tally.apiKeys.revoke("key_01J…");
   * ```
   */
  revoke(keyId: string, options?: RequestOptions): Promise<ApiKey> {
    return this._http.request({ method: "DELETE", path: `/v1/api-keys/${seg(keyId)}`, options });
  }

  /**
   * Same as {@link revoke}: `DELETE /v1/api-keys/{id}`, named like the other resources' deletes.
   *
   * @example
   * ```ts
   * await tally.apiKeys.delete("key_01J…");
   * ```
   */
  delete(keyId: string, options?: RequestOptions): Promise<ApiKey> {
    return this.revoke(keyId, options);
  }
}

import { Type } from "typebox";
import type { Router } from "../router.ts";
import type { RouteDeps } from "./deps.ts";
import { strictObject, ShortString, IdParams, Page, PageQuery } from "../schemas/common.ts";
import { pageOf } from "../present-commerce.ts";
import { LIMITS } from "../../domain/limits.ts";
import { ApiKey, App, EndUserAuth, KeyScope } from "../schemas/models.ts";
import { present } from "../present.ts";
import * as apps from "../../domain/apps.ts";
import { listApps } from "../../store/repo/apps.ts";

export function appRoutes(r: Router, deps: RouteDeps): void {
  const { db, clock } = deps;

  r.add(
    {
      method: "POST",
      url: "/v1/apps",
      auth: "admin",
      tag: "Applications",
      summary: "Create an application and its first secret key",
      body: strictObject({ name: ShortString }),
      responses: { 201: Type.Object({ app: App, secretKey: Type.String() }) },
    },
    async ({ body }) => {
      const { app, secretKey } = await apps.createApp(db, clock, body.name);
      return { app: present.app(app), secretKey };
    },
  );

  r.add(
    {
      method: "GET",
      url: "/v1/apps",
      auth: "admin",
      tag: "Applications",
      summary: "List applications, oldest first (at most 1,000)",
      responses: { 200: Type.Object({ items: Type.Array(App) }) },
    },
    async () => ({ items: (await db.read((q) => listApps(q, 1000))).map(present.app) }),
  );

  r.add(
    { method: "GET", url: "/v1/app", auth: "app", tag: "Applications", summary: "The calling application", responses: { 200: App } },
    async ({ scope }) => present.app(await apps.getAppRecord(db, scope.appId)),
  );

  r.add(
    {
      method: "PATCH",
      url: "/v1/app",
      auth: "app",
      scope: "admin",
      tag: "Applications",
      summary: "Rename the application or configure end-user tokens",
      body: strictObject({ name: Type.Optional(ShortString), endUserAuth: Type.Optional(Type.Union([EndUserAuth, Type.Null()])) }),
      responses: { 200: App },
    },
    async ({ scope, body }) => present.app(await apps.updateApp(db, clock, scope.appId, body, deps.sealer)),
  );

  r.add(
    {
      method: "POST",
      url: "/v1/api-keys",
      auth: "app",
      scope: "admin",
      tag: "API keys",
      summary: "Create a key (the secret is shown only in this response)",
      body: strictObject({
        name: ShortString,
        type: Type.Optional(Type.Union([Type.Literal("secret"), Type.Literal("hmac")])),
        scopes: Type.Optional(Type.Array(KeyScope, { minItems: 1, maxItems: 3 })),
      }),
      responses: {
        201: Type.Object({ apiKey: ApiKey, key: Type.Optional(Type.String()), keyId: Type.Optional(Type.String()), secret: Type.Optional(Type.String()) }),
      },
    },
    async ({ scope, body }) => {
      const created = await apps.createApiKey(db, clock, scope.appId, { name: body.name, type: body.type ?? "secret", scopes: body.scopes }, deps.sealer);
      if (created.apiKey.type === "hmac") return { apiKey: present.apiKey(created.apiKey), keyId: created.apiKey.id, secret: created.key };
      return { apiKey: present.apiKey(created.apiKey), key: created.key };
    },
  );

  r.add(
    {
      method: "GET", url: "/v1/api-keys", auth: "app", scope: "admin", tag: "API keys", summary: "List keys, newest first (never their secrets)",
      query: strictObject(PageQuery), responses: { 200: Page(ApiKey) },
    },
    async ({ scope, query }) => {
      const limit = query.limit ?? LIMITS.pageLimitDefault;
      return pageOf(await apps.listApiKeys(db, scope.appId, { beforeId: query.cursor, limit: limit + 1 }), limit, present.apiKey);
    },
  );

  r.add(
    {
      method: "DELETE",
      url: "/v1/api-keys/{id}",
      auth: "app",
      scope: "admin",
      tag: "API keys",
      summary: "Revoke a key, effective on the next request",
      params: IdParams("id"),
      responses: { 200: ApiKey },
    },
    async ({ scope, params }) => {
      const revoked = await apps.revokeApiKey(db, clock, scope.appId, params.id);
      deps.onKeysChanged?.();
      return present.apiKey(revoked);
    },
  );
}

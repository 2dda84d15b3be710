import type { TSchema } from "typebox";
import type { RouteRecord } from "./router.ts";
import { ErrorEnvelope } from "./schemas/common.ts";
import * as commerce from "./schemas/commerce.ts";
import * as models from "./schemas/models.ts";

type Json = Record<string, unknown>;

const NAMED: Array<[string, TSchema]> = [...Object.entries(models), ...Object.entries(commerce)]
  .filter(([, s]) => typeof s === "object" && s !== null && typeof (s as unknown as { title?: unknown }).title === "string")
  .map(([, s]) => [(s as unknown as { title: string }).title, s as TSchema]);

/** Replaces named model schemas with `$ref`s to `components.schemas`, anywhere in a schema. */
function withRefs(schema: unknown, top = false): unknown {
  if (typeof schema !== "object" || schema === null) return schema;
  if (!top) {
    const named = NAMED.find(([, s]) => s === schema);
    if (named) return { $ref: `#/components/schemas/${named[0]}` };
  }
  if (Array.isArray(schema)) return schema.map((s) => withRefs(s));
  const out: Json = {};
  for (const [k, v] of Object.entries(schema)) out[k] = withRefs(v);
  return out;
}

function parameters(schema: TSchema | undefined, where: "query" | "path"): Json[] {
  if (!schema) return [];
  const props = (schema as { properties?: Record<string, unknown> }).properties ?? {};
  const required = new Set((schema as { required?: string[] }).required ?? []);
  return Object.entries(props).map(([name, s]) => ({ name, in: where, required: where === "path" || required.has(name), schema: withRefs(s) }));
}

const AUTH_NOTE: Record<string, string> = {
  public: "No authentication.",
  admin: "Admin token (`Authorization: Bearer <TALLY_ADMIN_TOKEN>`).",
  app: "A key of the application: `Authorization: Bearer sk_…`, or an HMAC key's signature `Authorization: Tally-HMAC keyId=…, ts=…, nonce=…, sig=…` (see docs/security.md). Scope ",
  me: "End-user token (`Authorization: Bearer <JWT>`) naming its application in a `tally_app` claim, the `tally-app` header or its issuer; read-only, the token's own account.",
};

/** The OpenAPI 3.1 document, generated from the route table: the same schemas that validate. */
export function buildOpenApi(routes: readonly RouteRecord[]): Json {
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    const responses: Json = {};
    for (const [status, schema] of Object.entries(r.responses)) {
      responses[status] = { description: Number(status) < 300 ? "Success" : "Error", content: { "application/json": { schema: withRefs(schema, false) } } };
    }
    responses["default"] = { description: "Error", content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } } };
    const op: Json = {
      summary: r.summary,
      tags: [r.tag],
      description: AUTH_NOTE[r.auth] + (r.auth === "app" ? `\`${r.scope}\`.` : ""),
      parameters: [...parameters(r.params, "path"), ...parameters(r.query, "query")],
      responses,
      security: r.auth === "public" ? [] : [{ bearer: [] }],
    };
    if (r.body) op["requestBody"] = { required: true, content: { "application/json": { schema: withRefs(r.body, true) } } };
    if (r.method !== "GET") {
      (op["parameters"] as Json[]).push({ name: "Idempotency-Key", in: "header", required: false, schema: { type: "string", minLength: 1, maxLength: 255 } });
    }
    paths[r.url] = { ...(paths[r.url] ?? {}), [r.method.toLowerCase()]: op };
  }
  const schemas: Json = { Error: ErrorEnvelope };
  for (const [name, s] of NAMED) schemas[name] = withRefs(s, true);
  return {
    openapi: "3.1.0",
    info: {
      title: "Tally API",
      version: "1.0.0",
      description: "Credits ledger and usage billing for AI products. Amounts are integers in the unit's smallest denomination.",
    },
    servers: [{ url: "/" }],
    components: { schemas, securitySchemes: { bearer: { type: "http", scheme: "bearer" } } },
    paths,
  };
}

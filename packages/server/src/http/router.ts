import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { Static, TSchema } from "typebox";
import { compileValidator, type Validator } from "./validation.ts";
import { strictObject } from "./schemas/common.ts";
import type { KeyScope } from "../store/records.ts";
import type { Principal, RouteAuth } from "../auth/principal.ts";
import type { Scope } from "../domain/context.ts";

type In<S> = S extends TSchema ? Static<S> : undefined;

export type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

export interface RouteSpec<B, Q, P> {
  method: Method;
  url: string;
  auth: RouteAuth;
  /** Scope a key needs; defaults to `read` for GET and `write` otherwise. */
  scope?: KeyScope;
  summary: string;
  tag: string;
  body?: B;
  query?: Q;
  params?: P;
  /** Status → response schema. The first is the success status. */
  responses: Record<number, TSchema>;
  /** Never retried by clients and never replayed: e.g. the Stripe webhook. */
  idempotent?: false;
  /** The handler reads the raw body itself (webhooks). */
  rawBody?: boolean;
  /**
   * Also served by the direct dispatcher (`direct-routes.ts`), which answers the common shape of
   * a hot route's request without Fastify. Only for `app` routes whose handler needs nothing
   * but the parsed request (a `DirectHandlerContext`: no Fastify request or reply).
   */
  direct?: boolean;
}

/** What a handler gets on either path: the validated request and who is asking. */
export interface DirectHandlerContext<B, Q, P> {
  body: In<B>;
  query: In<Q>;
  params: In<P>;
  principal: Principal;
  /** The application the request acts on (absent for admin-only and public routes). */
  scope: Scope;
  /** The Idempotency-Key header, when given. */
  idempotencyKey: string | undefined;
  status(code: number): void;
}

/** What a handler served only by Fastify gets: also the request and reply themselves. */
export interface HandlerContext<B, Q, P> extends DirectHandlerContext<B, Q, P> {
  request: FastifyRequest;
  reply: FastifyReply;
}

/** A route the direct dispatcher may serve, with its validators compiled as Fastify compiles them. */
export interface DirectRoute {
  method: Method;
  /** As in the contract: `/v1/reservations/{id}/confirm`. */
  url: string;
  /** As Fastify names it (metrics' route label): `/v1/reservations/:id/confirm`. */
  fastifyUrl: string;
  scope: KeyScope;
  successStatus: number;
  params: Validator | undefined;
  body: Validator | undefined;
  query: Validator | undefined;
  handler: (ctx: DirectHandlerContext<TSchema, TSchema, TSchema>) => Promise<unknown>;
}

export interface RouteRecord {
  method: Method;
  url: string;
  auth: RouteAuth;
  scope: KeyScope;
  summary: string;
  tag: string;
  body?: TSchema;
  query?: TSchema;
  params?: TSchema;
  responses: Record<number, TSchema>;
}

declare module "fastify" {
  interface FastifyContextConfig {
    auth?: RouteAuth;
    scope?: KeyScope;
    rawBody?: boolean;
    idempotent?: boolean;
  }
  interface FastifyRequest {
    principal?: Principal;
    scope?: Scope;
    rawBody?: string;
  }
}

/** The query of an API route that takes none: empty. */
const NO_QUERY = strictObject({});

/**
 * Registers routes on Fastify and remembers them: the route table feeds the OpenAPI document
 * and the authorization-matrix test, so a route cannot exist without an auth decision.
 */
export class Router {
  readonly routes: RouteRecord[] = [];
  readonly directRoutes: DirectRoute[] = [];

  constructor(private readonly app: FastifyInstance) {}

  add<B extends TSchema | undefined = undefined, Q extends TSchema | undefined = undefined, P extends TSchema | undefined = undefined>(
    spec: RouteSpec<B, Q, P> & { direct: true },
    handler: (ctx: DirectHandlerContext<B, Q, P>) => Promise<unknown>,
  ): void;
  add<B extends TSchema | undefined = undefined, Q extends TSchema | undefined = undefined, P extends TSchema | undefined = undefined>(
    spec: RouteSpec<B, Q, P> & { direct?: false },
    handler: (ctx: HandlerContext<B, Q, P>) => Promise<unknown>,
  ): void;
  add<B extends TSchema | undefined = undefined, Q extends TSchema | undefined = undefined, P extends TSchema | undefined = undefined>(
    spec: RouteSpec<B, Q, P>,
    handler: (ctx: HandlerContext<B, Q, P>) => Promise<unknown>,
  ): void {
    const scope = spec.scope ?? (spec.method === "GET" ? "read" : "write");
    const successStatus = Number(Object.keys(spec.responses)[0] ?? 200);
    const fastifyUrl = spec.url.replace(/\{(\w+)\}/g, ":$1");
    this.routes.push({
      method: spec.method,
      url: spec.url,
      auth: spec.auth,
      scope,
      summary: spec.summary,
      tag: spec.tag,
      ...(spec.body ? { body: spec.body } : {}),
      ...(spec.query ? { query: spec.query } : {}),
      ...(spec.params ? { params: spec.params } : {}),
      responses: spec.responses,
    });
    const schema: Record<string, unknown> = {};
    if (spec.body) schema["body"] = spec.body;
    // An API route that takes no query still refuses one ("unknown fields are rejected"), so a
    // misspelt filter is a 400, not a silently unfiltered answer; public pages take any.
    if (spec.query) schema["querystring"] = spec.query;
    else if (spec.auth !== "public") schema["querystring"] = NO_QUERY;
    if (spec.params) schema["params"] = spec.params;
    if (spec.direct === true) {
      if (spec.auth !== "app" || spec.rawBody === true || spec.idempotent === false) {
        throw new Error(`${spec.method} ${spec.url}: only app routes that take JSON and honour Idempotency-Key can be direct`);
      }
      this.directRoutes.push({
        method: spec.method,
        url: spec.url,
        fastifyUrl,
        scope,
        successStatus,
        params: spec.params ? compileValidator(spec.params, "params") : undefined,
        body: spec.body ? compileValidator(spec.body, "body") : undefined,
        query: spec.query ? compileValidator(spec.query, "querystring") : undefined,
        handler: handler as unknown as DirectRoute["handler"],
      });
    }
    this.app.route({
      method: spec.method,
      url: fastifyUrl,
      schema,
      config: { auth: spec.auth, scope, rawBody: spec.rawBody === true, idempotent: spec.idempotent !== false },
      handler: async (request, reply) => {
        let status = successStatus;
        const header = request.headers["idempotency-key"];
        const result = await handler({
          body: request.body as In<B>,
          query: request.query as In<Q>,
          params: request.params as In<P>,
          principal: request.principal!,
          scope: request.scope!,
          request,
          reply,
          idempotencyKey: typeof header === "string" ? header : undefined,
          status: (code) => {
            status = code;
          },
        });
        reply.code(status);
        return result;
      },
    });
  }
}

import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { FastifyBaseLogger } from "fastify";
import type { Authenticator } from "../auth/authenticate.ts";
import type { Principal } from "../auth/principal.ts";
import type { RateLimiter } from "../auth/rate-limit.ts";
import type { Scope } from "../domain/context.ts";
import { newId } from "../domain/ids.ts";
import { LIMITS } from "../domain/limits.ts";
import { rateLimitBucket, rateLimited, requireKeyScope } from "./auth-hooks.ts";
import { toErrorResponse } from "./errors.ts";
import { parseJsonBody } from "./json-body.ts";
import type { Metrics } from "./metrics.ts";
import type { DirectRoute } from "./router.ts";
import type { Validator } from "./validation.ts";

/** Longest path parameter the router takes (Fastify's `maxParamLength`); longer ones are refused there. */
export const PATH_PARAM_LENGTH_MAX = 300;

const JSON_TYPE = "application/json; charset=utf-8";

/** Characters after which Fastify's router reads something other than plain path segments. */
const NOT_A_PLAIN_PATH = /[?%;#]/;

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

interface CompiledRoute {
  readonly route: DirectRoute;
  /** The route's path, segment by segment. */
  readonly pattern: Pattern;
  /** Parameter names, in the order their segments appear. */
  readonly paramNames: readonly string[];
  /**
   * Other routes that can match some of this one's paths (`/v1/accounts/by-external-id/:id`
   * against `/v1/accounts/:accountId/balance`): such a path goes to Fastify, whose router
   * decides (static segments before parameters).
   */
  shadows: Pattern[];
}

export interface DirectRouteDeps {
  authenticator: Authenticator;
  rateLimiter: RateLimiter;
  scopeFor: (appId: string) => Scope;
  metrics: Metrics;
  log: FastifyBaseLogger;
}

/**
 * Serves the common shape of the hot routes' requests (deduct, reserve, confirm, balance, …)
 * straight from `node:http`, and hands every other request to Fastify untouched.
 *
 * Fastify's request path (hooks, request and reply objects, content-type parsing, serializer
 * lookup) was about a quarter of a deduct's main-thread instructions and a tenth of its time
 * (docs/performance-history.md, session 12). A request is
 * taken here only when everything Fastify would do for it is known from its request line and
 * headers: a route marked `direct` matched by a plain path (no query string, no escapes), a
 * secret key already in the key cache, no `Idempotency-Key` header, and for a POST a JSON body
 * of a declared length within the limit. Anything else (HMAC signatures, the admin token,
 * end-user tokens, unknown keys, chunked bodies, other content types, shutdown) goes to Fastify,
 * which then answers exactly as it always has. That decision is made before a byte of the body
 * is read, so the fallback costs nothing.
 *
 * What a request taken here gets is what Fastify gives it, step for step and from the same
 * code: the key's rate limit and scope (auth-hooks.ts), the same JSON parser and compiled
 * validators (params, then body, then query, as Fastify orders them), the route's own handler,
 * the same error envelopes (errors.ts), the same headers, the same metrics and access log line.
 * A test sends every request shape to a server with and without this dispatcher and compares
 * the answers (test/http/direct-routes.test.ts).
 */
export class DirectDispatcher {
  /**
   * Routes by method, then by their number of path segments. Looked up by the method string
   * Node's parser hands over (one of a fixed set, its hash computed once) rather than by a key
   * built per request, which would be hashed anew on every request.
   */
  private readonly routesByMethod = new Map<string, Array<CompiledRoute[] | undefined>>();
  /** Set once every route Fastify serves is known (`learnRoutes`); until then Fastify serves all. */
  private ready = false;
  private closing = false;

  constructor(
    routes: readonly DirectRoute[],
    private readonly deps: DirectRouteDeps,
  ) {
    for (const route of routes) {
      const pattern = patternOf(route.fastifyUrl);
      const compiled: CompiledRoute = {
        route,
        pattern,
        paramNames: route.fastifyUrl.split("/").filter((p) => p.startsWith(":")).map((p) => p.slice(1)),
        shadows: [],
      };
      let byLength = this.routesByMethod.get(route.method);
      if (byLength === undefined) this.routesByMethod.set(route.method, (byLength = []));
      (byLength[pattern.length] ??= []).push(compiled);
    }
  }

  /**
   * Puts the dispatcher in front of Fastify's request handler on `server` (the one Fastify made,
   * with its timeouts and header limits).
   */
  install(server: Server): void {
    const listeners = server.listeners("request") as Handler[];
    if (listeners.length !== 1) throw new Error(`expected Fastify's one request listener, found ${listeners.length}`);
    const fastify = listeners[0]!;
    server.removeAllListeners("request");
    server.on("request", (request: IncomingMessage, response: ServerResponse) => {
      if (!this.serve(request, response)) fastify(request, response);
    });
  }

  /** Every route Fastify serves (as Fastify spells them), once all are registered. */
  learnRoutes(routes: ReadonlyArray<{ method: string; url: string }>): void {
    for (const list of [...this.routesByMethod.values()].flat()) {
      if (list === undefined) continue;
      for (const compiled of list) {
        compiled.shadows = routes
          .filter((other) => other.method === compiled.route.method && other.url !== compiled.route.fastifyUrl)
          .map((other) => patternOf(other.url))
          .filter((theirs) => overlap(compiled.pattern, theirs));
      }
    }
    this.ready = true;
  }

  /** From now on every request goes to Fastify, which answers 503 while the server closes. */
  close(): void {
    this.closing = true;
  }

  /** Serves the request and returns true, or returns false having touched nothing. */
  serve(request: IncomingMessage, response: ServerResponse): boolean {
    if (this.closing || !this.ready) return false;
    const url = request.url;
    const method = request.method;
    if (url === undefined || method === undefined || url.charCodeAt(0) !== 47 /* "/" */ || NOT_A_PLAIN_PATH.test(url)) return false;
    const parts = url.split("/");
    const candidates = this.routesByMethod.get(method)?.[parts.length - 1];
    if (candidates === undefined) return false;
    let matched: CompiledRoute | undefined;
    for (const candidate of candidates) {
      if (pathMatches(candidate.pattern, parts)) {
        matched = candidate;
        break;
      }
    }
    if (matched === undefined) return false;
    for (const shadow of matched.shadows) if (pathMatches(shadow, parts)) return false;
    const headers = request.headers;
    if (headers["idempotency-key"] !== undefined) return false;
    if (method === "GET") {
      if (headers["transfer-encoding"] !== undefined || (headers["content-length"] !== undefined && headers["content-length"] !== "0")) return false;
    } else {
      if (headers["transfer-encoding"] !== undefined || !isJsonContentType(headers["content-type"])) return false;
      const length = headers["content-length"];
      if (length === undefined || !(Number(length) <= LIMITS.bodyBytesMax)) return false;
    }
    const principal = this.deps.authenticator.cachedPrincipal(headers.authorization);
    if (principal === undefined || principal.kind !== "key") return false;
    const params: Record<string, string> = {};
    for (let i = 0, p = 0; i < matched.pattern.length; i++) {
      if (matched.pattern[i] === null) params[matched.paramNames[p++]!] = parts[i + 1]!;
    }
    this.respond(request, response, matched.route, params, principal, performance.now()).catch((error: unknown) => {
      // Past the error envelope (a header that would not write, a throwing logger): nothing can
      // be said to this client any more, and the process must not die of an unhandled rejection.
      this.deps.log.error({ err: error }, "direct route failed while answering");
      response.destroy();
    });
    return true;
  }

  private async respond(
    request: IncomingMessage,
    response: ServerResponse,
    route: DirectRoute,
    params: Record<string, string>,
    principal: Principal & { kind: "key" },
    startedMs: number,
  ): Promise<void> {
    const requestId = newId("request");
    let status = route.successStatus;
    let body: string;
    let extraHeaders: Record<string, string> | undefined;
    try {
      // As Fastify's onRequest hook does, before the body is read: rate limit, then scope.
      const bucket = rateLimitBucket(principal)!;
      const taken = this.deps.rateLimiter.take(bucket);
      const wait = typeof taken === "number" ? taken : await taken;
      if (wait > 0) throw rateLimited(wait);
      requireKeyScope(principal, route.scope);
      const parsedBody = route.method === "GET" ? undefined : parseJsonBody(await readBody(request));
      const query = {};
      check(route.params, params, "params");
      check(route.body, parsedBody, "body");
      check(route.query, query, "querystring");
      const result = await route.handler({
        body: parsedBody,
        query,
        params,
        principal,
        scope: this.deps.scopeFor(principal.appId),
        idempotencyKey: undefined,
        status: (code) => {
          status = code;
        },
      });
      body = JSON.stringify(result);
    } catch (error) {
      if (error === CLIENT_GONE) return;
      ({ status, body, headers: extraHeaders } = toErrorResponse(error, requestId, this.deps.log));
    }
    if (!response.destroyed) {
      const headers: Record<string, string | number> = {
        "x-request-id": requestId,
        "content-type": JSON_TYPE,
        "x-content-type-options": "nosniff",
        "content-length": Buffer.byteLength(body),
      };
      if (extraHeaders !== undefined) Object.assign(headers, extraHeaders);
      response.writeHead(status, headers);
      response.end(body);
    }
    // What Fastify's onResponse hook records (app.ts).
    const ms = performance.now() - startedMs;
    this.deps.metrics.observeRequest(route.method, route.fastifyUrl, status, ms / 1000);
    this.deps.metrics.countDirectRequest();
    if ((this.deps.log as unknown as { isLevelEnabled(level: string): boolean }).isLevelEnabled("info")) {
      // The same line as Fastify's request logger writes: the request id bound, then the fields.
      this.deps.log.child({ reqId: requestId }).info({ method: route.method, route: route.fastifyUrl, status, ms: Math.round(ms * 100) / 100 }, "request");
    }
  }
}

/** The two spellings clients send; any other (other parameters, other case) goes to Fastify's parser lookup. */
function isJsonContentType(value: string | undefined): boolean {
  return value === "application/json" || value === "application/json; charset=utf-8";
}

/** A validation failure shaped as Fastify shapes it, for `toErrorResponse`. */
function check(validator: Validator | undefined, data: unknown, context: "params" | "body" | "querystring"): void {
  if (validator === undefined || validator(data)) return;
  throw Object.assign(new Error(`invalid ${context}`), { validation: validator.errors ?? [], validationContext: context });
}

/** Thrown when the client hung up before its body arrived: there is no one to answer. */
const CLIENT_GONE = new Error("client closed the connection");

/** The body as text. Its length was declared and checked already; Node's parser holds it to it. */
function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let length = 0;
    request.on("data", (chunk: Buffer) => {
      chunks.push(chunk);
      length += chunk.length;
    });
    request.on("end", () => resolve(chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks, length).toString("utf8")));
    request.on("error", () => reject(CLIENT_GONE));
  });
}

/** A route as Fastify's router sees it, by path segments: text, a parameter (null), or "the rest" (a wildcard). */
type Pattern = ReadonlyArray<string | null | typeof REST>;
const REST = Symbol("rest");

function patternOf(fastifyUrl: string): Pattern {
  const out: Array<string | null | typeof REST> = [];
  for (const part of fastifyUrl.split("/").slice(1)) {
    if (part.includes("*")) {
      out.push(REST);
      break;
    }
    out.push(part.includes(":") ? null : part);
  }
  return out;
}

/** Whether two patterns can match one path. */
function overlap(a: Pattern, b: Pattern): boolean {
  for (let i = 0; ; i++) {
    const x = a[i];
    const y = b[i];
    if (x === REST || y === REST) return true;
    if (x === undefined || y === undefined) return x === y;
    if (x !== null && y !== null && x !== y) return false;
  }
}

/**
 * Whether a path (split on "/", with its leading empty part) matches a pattern. A parameter
 * takes a non-empty segment of at most PATH_PARAM_LENGTH_MAX characters, as Fastify's router does.
 */
function pathMatches(pattern: Pattern, parts: readonly string[]): boolean {
  for (let i = 0; ; i++) {
    const segment = pattern[i];
    const part = parts[i + 1];
    if (segment === REST) return true;
    if (segment === undefined || part === undefined) return segment === part;
    if (segment === null) {
      if (part.length === 0 || part.length > PATH_PARAM_LENGTH_MAX) return false;
    } else if (segment !== part) {
      return false;
    }
  }
}

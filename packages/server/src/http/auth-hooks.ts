import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Scope } from "../domain/context.ts";
import { TallyError } from "../domain/errors.ts";
import { type Authenticator, unauthenticated } from "../auth/authenticate.ts";
import { hasScope, type Principal } from "../auth/principal.ts";
import { isHmacAuthorization } from "../auth/hmac.ts";
import type { RateLimiter } from "../auth/rate-limit.ts";
import type { KeyScope } from "../store/records.ts";

declare module "fastify" {
  interface FastifyRequest {
    /** Set when a `Tally-HMAC` signature waits for the body before it can be checked. */
    hmacPending?: boolean;
    /**
     * Why a signed request's body would not parse, held back until its signature is checked: a
     * forged request is 401 whatever its body, and only a signed one learns its JSON is bad.
     */
    bodyErrorAfterSignature?: Error;
  }
}

export interface AuthHookDeps {
  authenticator: Authenticator;
  rateLimiter: RateLimiter;
  scopeFor: (appId: string) => Scope;
}

function tallyAppHeader(request: FastifyRequest): string | undefined {
  const value = request.headers["tally-app"];
  return typeof value === "string" ? value : undefined;
}

/**
 * Enforces each route's auth decision (`public | admin | app | me` + scope; see `Router`).
 *
 * Bearer credentials are checked in `onRequest`, before the body is read, so a caller without
 * a valid key cannot make the server parse a megabyte. A `Tally-HMAC` signature covers the body,
 * so it is checked in `preValidation`, once the raw body has been read but before anything acts
 * on it. Both paths then apply the same rate limit and authorization.
 */
export function installAuthHooks(app: FastifyInstance, deps: AuthHookDeps): void {
  const { authenticator, rateLimiter, scopeFor } = deps;

  /** Rate limit, then authorization; synchronous unless a limit or the admin's application must be looked up. */
  function admit(request: FastifyRequest, principal: Principal): void | Promise<void> {
    request.principal = principal;
    const wait = limit(principal);
    if (typeof wait !== "number") return wait.then((w) => afterLimit(request, principal, w));
    return afterLimit(request, principal, wait);
  }

  function afterLimit(request: FastifyRequest, principal: Principal, wait: number): void | Promise<void> {
    if (wait > 0) throw rateLimited(wait);
    authorize(request, principal);
    if (principal.kind === "admin" && request.scope !== undefined) {
      const appId = request.scope.appId;
      return authenticator.appExists(appId).then((exists) => {
        if (!exists) throw unauthenticated("Unknown application");
      });
    }
  }

  /** Seconds to wait (0: go ahead), or a promise of it when the limit is shared through the database. */
  function limit(principal: Principal): number | Promise<number> {
    const bucket = rateLimitBucket(principal);
    return bucket === undefined ? 0 : rateLimiter.take(bucket);
  }

  function authorize(request: FastifyRequest, principal: Principal): void {
    const config = request.routeOptions.config;
    const auth = config?.auth;
    if (auth === "admin") {
      if (principal.kind !== "admin") throw new TallyError("FORBIDDEN", "This route needs the admin token");
      return;
    }
    if (auth === "me") {
      if (principal.kind !== "endUser") throw new TallyError("FORBIDDEN", "Routes under /v1/me take an end-user token");
      if (request.method !== "GET") throw new TallyError("FORBIDDEN", "End-user tokens are read-only");
      request.scope = scopeFor(principal.appId);
      return;
    }
    // auth === "app"
    if (principal.kind === "endUser") throw new TallyError("FORBIDDEN", "End-user tokens may only read /v1/me");
    if (principal.kind === "admin") {
      const appId = tallyAppHeader(request);
      if (appId === undefined) throw new TallyError("FORBIDDEN", "The admin token acts on an application named in the `tally-app` header");
      request.scope = scopeFor(appId);
      return;
    }
    requireKeyScope(principal, config?.scope ?? (request.method === "GET" ? "read" : "write"));
    request.scope = scopeFor(principal.appId);
  }

  // Fail closed at start-up: an API route registered around the Router (so without an auth
  // decision) would otherwise be public.
  app.addHook("onRoute", (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    if (!route.url.startsWith("/v1/") || methods.every((m) => m === "OPTIONS" || m === "HEAD")) return;
    const auth = (route.config as { auth?: unknown } | undefined)?.auth;
    if (auth === undefined) throw new Error(`${methods.join(",")} ${route.url} has no auth decision: register it with Router.add, or give it config.auth`);
  });

  // Callback-style hooks with a synchronous path: on the hot path (a cached secret key) nothing
  // here allocates a promise or waits a microtask. When there is something to wait for, the hook
  // returns the promise and Fastify continues as it does for an async hook.
  app.addHook("onRequest", (request, reply, done) => {
    reply.header("x-request-id", request.id);
    const auth = request.routeOptions.config?.auth;
    if (auth === undefined || auth === "public") return done();
    const header = request.headers.authorization;
    if (isHmacAuthorization(header)) {
      request.hmacPending = true;
      return done();
    }
    return settle(() => {
      const cached = authenticator.cachedPrincipal(header);
      if (cached !== undefined) return admit(request, cached);
      return authenticator.authenticate(header, tallyAppHeader(request)).then((principal) => admit(request, principal));
    }, done);
  });

  app.addHook("preValidation", (request, _reply, done) => {
    if (request.hmacPending !== true) return done();
    return settle(
      () =>
        authenticator
          .authenticateHmac(request.headers.authorization!, { method: request.method, pathWithQuery: request.url, body: request.rawBody ?? "" })
          .then((principal) => {
            request.hmacPending = false;
            if (request.bodyErrorAfterSignature !== undefined) throw request.bodyErrorAfterSignature;
            return admit(request, principal);
          }),
      done,
    );
  });
}

/** The rate-limit bucket a principal's requests count against; none for the admin token. */
export function rateLimitBucket(principal: Principal): string | undefined {
  // The operator's admin token is not limited: it is one credential, held by the operator.
  return principal.kind === "key" ? keyBucket(principal.keyId) : principal.kind === "endUser" ? `user:${principal.appId}:${principal.subject}` : undefined;
}

/**
 * A key's bucket name, the same string every time: the limiter finds its bucket by name, and a
 * name built per request is a new string hashed anew on every lookup. The key id comes from the
 * key cache, the same string each time, so this lookup hashes nothing.
 */
const bucketByKeyId = new Map<string, string>();
function keyBucket(keyId: string): string {
  let bucket = bucketByKeyId.get(keyId);
  if (bucket === undefined) {
    if (bucketByKeyId.size >= 10_000) bucketByKeyId.clear();
    bucket = `key:${keyId}`;
    bucketByKeyId.set(keyId, bucket);
  }
  return bucket;
}

export function rateLimited(waitSeconds: number): TallyError {
  return new TallyError("RATE_LIMITED", `Too many requests for this key; retry in ${waitSeconds} s`, { retryAfterSeconds: waitSeconds }, { "retry-after": String(waitSeconds) });
}

/** An application key on an `app` route: it must hold the route's scope. */
export function requireKeyScope(principal: Principal & { kind: "key" }, needed: KeyScope): void {
  if (!hasScope(principal.scopes, needed)) throw new TallyError("FORBIDDEN", `This key lacks the ${needed} scope`);
}

/**
 * Runs `step`: when it finishes synchronously, calls `done` (with its error, if it threw) and
 * returns nothing; when it returns a promise, returns that promise for Fastify to wait on, as for
 * an async hook, and leaves `done` alone.
 */
function settle(step: () => void | Promise<void>, done: (error?: Error) => void): void | Promise<void> {
  let pending: void | Promise<void>;
  try {
    pending = step();
  } catch (error) {
    return done(error as Error);
  }
  if (pending === undefined) return done();
  return pending;
}

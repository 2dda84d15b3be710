import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from "fastify";
import type { Database } from "../store/sql.ts";
import type { Clock } from "../domain/clock.ts";
import type { Scope } from "../domain/context.ts";
import { newId } from "../domain/ids.ts";
import { LIMITS } from "../domain/limits.ts";
import { Authenticator } from "../auth/authenticate.ts";
import { loadSecurityConfig, type SecurityConfig } from "../auth/config.ts";
import { SecretSealer } from "../auth/sealing.ts";
import { createRateLimiter } from "../auth/rate-limit.ts";
import { installAuthHooks } from "./auth-hooks.ts";
import { installCors } from "./cors.ts";
import { installSecurityHeaders } from "./security-headers.ts";
import { REDACTED_LOG_PATHS } from "./log-redaction.ts";
import { envelope, NUL_MESSAGE, sendError } from "./errors.ts";
import { TallyError } from "../domain/errors.ts";
import { IdempotencyLayer } from "./idempotency.ts";
import { Router } from "./router.ts";
import { lazyChildLoggerFactory } from "./lazy-logger.ts";
import { validatorCompiler } from "./validation.ts";
import { parseJsonBody } from "./json-body.ts";
import { DirectDispatcher, PATH_PARAM_LENGTH_MAX } from "./direct-routes.ts";
import { Metrics } from "./metrics.ts";
import { registerRoutes } from "./routes/index.ts";
import { buildOpenApi } from "./openapi.ts";
import { registerDocs } from "./docs.ts";
import { registerDashboard } from "./dashboard.ts";
import { answerUnparsableRequest } from "./client-errors.ts";
import { looksLikeJwt } from "../auth/end-user.ts";
import { createPaymentProvider } from "../payments/index.ts";
import { paymentsConfigFromEnv, type PaymentsConfig } from "../payments/provider.ts";

export interface AppOptions {
  db: Database;
  clock: Clock;
  adminToken: string | undefined;
  logLevel?: string;
  metrics?: Metrics;
  /** Master key, rate limits, CORS origins; read from the environment when absent. */
  security?: SecurityConfig;
  /** Where log lines go (default stdout); tests read them from here. */
  logStream?: { write(line: string): void };
  /** Payment provider settings; read from the environment when absent. */
  payments?: PaymentsConfig;
  /**
   * Serve the hot routes' common requests without Fastify (direct-routes.ts; default true,
   * TALLY_DIRECT_ROUTES=off turns it off). Off, every request takes Fastify's path.
   */
  directRoutes?: boolean;
  /** How long a live secret key is served from memory (the authenticator's default when absent). */
  keyCacheTtlMs?: number | undefined;
}

export interface BuiltApp {
  app: FastifyInstance;
  router: Router;
  authenticator: Authenticator;
  metrics: Metrics;
}

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

const HEADER_BYTES_MAX = 16 * 1024;

/** Builds the HTTP application (not listening). */
export async function buildApp(options: AppOptions): Promise<BuiltApp> {
  const app = Fastify({
    bodyLimit: LIMITS.bodyBytesMax,
    routerOptions: { maxParamLength: PATH_PARAM_LENGTH_MAX },
    genReqId: () => newId("request"),
    // Our own one-line access log (onResponse) replaces Fastify's two lines per request.
    logController: new LogController({ disableRequestLogging: true }),
    childLoggerFactory: lazyChildLoggerFactory,
    return503OnClosing: true,
    // Headers beyond 16 KiB are refused by Node itself (431) before any of our code runs.
    http: { maxHeaderSize: HEADER_BYTES_MAX },
    // Errors the router raises before any hook (a malformed URL, a path parameter over
    // maxParamLength) get the contract's envelope too, not Fastify's own body.
    frameworkErrors: (error, request, reply) => {
      reply.header("x-request-id", request.id);
      sendError(reply, request, error);
    },
    // …and so do requests Node's parser refuses before the router (headers over the limit, a
    // malformed request line).
    clientErrorHandler: answerUnparsableRequest,
    logger: {
      level: options.logLevel ?? "info",
      // Credentials never reach the log, whatever object they travel in (see docs/security.md).
      redact: { paths: REDACTED_LOG_PATHS, censor: "[redacted]" },
      ...(options.logStream !== undefined ? { stream: options.logStream } : {}),
    },
  });
  app.setValidatorCompiler(validatorCompiler);
  // Every route Fastify will serve, so that no direct route can take a request meant for another.
  const fastifyRoutes: Array<{ method: string; url: string }> = [];
  app.addHook("onRoute", (route) => {
    for (const method of Array.isArray(route.method) ? route.method : [route.method]) fastifyRoutes.push({ method, url: route.url });
  });
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  // JSON only. The raw text is kept: idempotency fingerprints and webhook signatures need it.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(["application/json"], { parseAs: "string", bodyLimit: LIMITS.bodyBytesMax }, (request, body, done) => {
    const text = body as string;
    request.rawBody = text;
    let parsed: unknown;
    try {
      parsed = parseJsonBody(text);
    } catch (error) {
      if (request.hmacPending === true) {
        request.bodyErrorAfterSignature = error as Error;
        return done(null, undefined);
      }
      return done(error as Error, undefined);
    }
    done(null, parsed);
  });

  const metrics = options.metrics ?? new Metrics();
  const security = options.security ?? loadSecurityConfig(process.env);
  const sealer = new SecretSealer(security);
  const authenticator = new Authenticator(options.db, options.clock, { adminToken: options.adminToken, keyCacheTtlMs: options.keyCacheTtlMs }, sealer);
  await authenticator.load();
  const idempotency = new IdempotencyLayer(options.db, options.clock);
  const scopeFor = (appId: string): Scope => ({
    db: options.db,
    clock: options.clock,
    appId,
  });

  installSecurityHeaders(app);
  installCors(app, security.corsOrigins);
  app.addHook("onClose", async () => authenticator.close());
  // One limiter for both request paths (Fastify's and the direct dispatcher's): a key's requests
  // count against one bucket whichever path serves them.
  const rateLimiter = createRateLimiter(options.db, security);
  installAuthHooks(app, { authenticator, rateLimiter, scopeFor });

  // Hooks are callback-style with a synchronous path, so a request without an Idempotency-Key
  // header pays no promise and no microtask for them.
  app.addHook("preHandler", (request, reply, done) => {
    const config = request.routeOptions.config;
    // A path no route matches (no auth decision) is a 404 with nothing to replay or guard.
    if (!MUTATING.has(request.method) || config?.auth === undefined || config.idempotent === false || config.auth === "public" || request.headers["idempotency-key"] === undefined) return done();
    // Admin routes (creating applications) act on no application: the operator's own keyspace.
    const appId = request.scope?.appId ?? "_admin";
    // A replay or conflict is answered by `begin` itself; Fastify then stops the chain (as for
    // an async hook, whose promise this is).
    return idempotency.begin(request, reply, appId).then(() => undefined);
  });

  app.addHook("onSend", (request, reply, payload, done) => {
    if (request.idempotency === undefined || request.idempotency.replayed) return done(null, payload);
    // Work to wait for: hand Fastify a promise rather than calling `done` later. Fastify then
    // sends the payload under its own guard: the reply may have gone out meanwhile (a client that
    // hung up, a body that was too large), and a throw from sending it must not escape as an
    // unhandled rejection, which would end the process.
    return idempotency.finish(request, reply.statusCode, typeof payload === "string" ? payload : String(payload ?? "")).then(() => payload);
  });

  app.addHook("onResponse", (request, reply, done) => {
    const route = request.routeOptions.url ?? "unmatched";
    metrics.observeRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    // The request id is bound to the request's logger already.
    request.log.info({ method: request.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime * 100) / 100 }, "request");
    done();
  });

  app.setErrorHandler(async (error, request, reply) => sendError(reply, request, error));
  app.setNotFoundHandler(async (request: FastifyRequest, reply) => {
    const path = request.url.split("?")[0]!;
    // An end-user token may only GET under /v1/me; anything else is 403 for it, whether or not
    // such a route exists (the contract's rule, and it says nothing of which routes exist).
    if (bearerIsJwt(request.headers.authorization) && (request.method !== "GET" || !(path === "/v1/me" || path.startsWith("/v1/me/")))) {
      reply.code(403).type("application/json; charset=utf-8").send(envelope("FORBIDDEN", "End-user tokens may only read /v1/me", request.id));
      return;
    }
    reply.code(404).type("application/json; charset=utf-8").send(envelope("NOT_FOUND", `No route ${request.method} ${path}`, request.id));
  });

  // PostgreSQL cannot store U+0000 and no id or filter holds one: a path or query that decodes
  // to it is refused, as a body holding one is (json-body.ts). The direct dispatcher never takes
  // a URL with an escape in it.
  app.addHook("preValidation", (request, _reply, done) => {
    if (request.url.includes("%00")) return done(new TallyError("VALIDATION_ERROR", "Invalid URL: it holds U+0000", { issues: [{ path: "/", message: NUL_MESSAGE }] }));
    done();
  });

  // Body-less POSTs (cancel, confirm with defaults) validate as an empty object.
  app.addHook("preValidation", (request, _reply, done) => {
    if (MUTATING.has(request.method) && request.body === undefined && request.routeOptions.schema?.body !== undefined) request.body = {};
    done();
  });

  const router = new Router(app);
  registerRoutes(router, { db: options.db, clock: options.clock, metrics, sealer, onKeysChanged: () => authenticator.forgetKeys(), payments: createPaymentProvider(options.payments ?? paymentsConfigFromEnv(process.env)) });
  const openapi = buildOpenApi(router.routes);
  app.get("/openapi.json", { config: { auth: "public" } }, async () => openapi);
  await registerDocs(app, openapi);
  await registerDashboard(app);
  if (options.directRoutes !== false) {
    const dispatcher = new DirectDispatcher(router.directRoutes, { authenticator, rateLimiter, scopeFor, metrics, log: app.log });
    app.addHook("onReady", (done) => {
      dispatcher.learnRoutes(fastifyRoutes);
      done();
    });
    app.addHook("preClose", (done) => {
      dispatcher.close();
      done();
    });
    dispatcher.install(app.server);
  }
  return { app, router, authenticator, metrics };
}

function bearerIsJwt(authorization: string | undefined): boolean {
  return authorization !== undefined && authorization.startsWith("Bearer ") && looksLikeJwt(authorization.slice("Bearer ".length).trim());
}

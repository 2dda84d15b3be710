import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";

/** Browser calls are only expected on the end-user routes; everything else is server to server. */
export function isEndUserPath(url: string): boolean {
  return url === "/v1/me" || url.startsWith("/v1/me/") || url.startsWith("/v1/me?");
}

const ALLOWED_HEADERS = "authorization, content-type, tally-app";
const EXPOSED_HEADERS = "x-request-id, retry-after";
const PREFLIGHT_MAX_AGE_SECONDS = 600;

/**
 * CORS for `/v1/me/…` only, for the origins in TALLY_CORS_ORIGINS (`*` allows any). The token
 * travels in the Authorization header, never in a cookie, so credentials mode is not needed and
 * never enabled. Other routes send no CORS headers at all: a browser page can never call them
 * with a secret key, which should never be in a browser anyway.
 */
export function installCors(app: FastifyInstance, origins: readonly string[]): void {
  const any = origins.includes("*");
  const allowedOrigin = (request: FastifyRequest): string | undefined => {
    const origin = request.headers.origin;
    if (typeof origin !== "string") return undefined;
    if (any) return "*";
    return origins.includes(origin) ? origin : undefined;
  };

  // Before authentication, so a 401 is readable by the page too (it needs to refresh its token).
  app.addHook("onRequest", (request, reply, done) => {
    if (!isEndUserPath(request.url)) return done();
    reply.header("vary", "Origin");
    const origin = allowedOrigin(request);
    if (origin !== undefined) {
      reply.header("access-control-allow-origin", origin);
      reply.header("access-control-expose-headers", EXPOSED_HEADERS);
    }
    done();
  });

  const preflight = async (request: FastifyRequest, reply: FastifyReply) => {
    const origin = allowedOrigin(request);
    const method = request.headers["access-control-request-method"];
    if (origin !== undefined && (method === undefined || method === "GET")) {
      reply.header("access-control-allow-methods", "GET");
      reply.header("access-control-allow-headers", ALLOWED_HEADERS);
      reply.header("access-control-max-age", String(PREFLIGHT_MAX_AGE_SECONDS));
    }
    // Without the allow headers the browser refuses the real request; the status says nothing more.
    return reply.code(204).send();
  };
  app.options("/v1/me", { config: { auth: "public", idempotent: false } }, preflight);
  app.options("/v1/me/*", { config: { auth: "public", idempotent: false } }, preflight);
}

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { FastifyInstance, FastifyReply } from "fastify";
import fastifyStatic from "@fastify/static";

/** Where `npm run build --workspace @tally/dashboard` writes the console (Vite, base `/dashboard/`). */
export const DASHBOARD_DIST = join(dirname(createRequire(import.meta.url).resolve("@tally/dashboard/package.json")), "dist");

/**
 * The page holds a secret key in sessionStorage, so it may run only its own scripts and talk only
 * to this server. Inline styles are allowed because the charting library sets style attributes.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join("; ");

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Tally dashboard not built</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; padding: 0 1rem; line-height: 1.5">
<h1>The dashboard is not built</h1>
<p>This server serves the operator's console from <code>packages/dashboard/dist</code>, which does not exist yet.
Build it (it is also built by <code>npm install</code>) and restart the server:</p>
<pre style="background:#f2f2f2;padding:0.75rem">npm run build --workspace @tally/dashboard</pre>
<p>The API works without it; its reference is at <a href="/docs">/docs</a>.</p>
</body></html>`;

/** Paths that name a file (an extension) or live under `assets/` are files; anything else is a page of the app. */
const FILE_LIKE = /(^assets\/)|(\.[A-Za-z0-9]+$)/;

/**
 * Serves the operator's console at `/dashboard`: built files from `distDir`, and `index.html` for
 * every other `/dashboard/…` path so the browser's own routes (e.g. `/dashboard/accounts/acct_…`)
 * survive a reload. The console is public static content; it calls the API with the key the
 * operator signs in with, like any other client.
 */
export async function registerDashboard(app: FastifyInstance, options: { distDir?: string } = {}): Promise<void> {
  const distDir = options.distDir ?? DASHBOARD_DIST;
  const config = { auth: "public" as const };
  const hide = { hide: true };

  if (!existsSync(join(distDir, "index.html"))) {
    const notBuilt = async (_request: unknown, reply: FastifyReply) =>
      reply.code(503).header("cache-control", "no-store").type("text/html; charset=utf-8").send(NOT_BUILT);
    app.get("/dashboard", { config, schema: hide }, notBuilt);
    app.get("/dashboard/*", { config, schema: hide }, notBuilt);
    return;
  }

  await app.register(async (scoped) => {
    await scoped.register(fastifyStatic, {
      root: distDir,
      serve: false,
      // Vite fingerprints everything under assets/, so those may be cached for good; the page
      // itself is revalidated so a rebuilt dashboard is picked up at once.
      setHeaders: (reply, path) => {
        reply.header("cache-control", path.includes(join("dist", "assets")) ? "public, max-age=31536000, immutable" : "no-cache");
        reply.header("x-content-type-options", "nosniff");
      },
    });

    const page = async (_request: unknown, reply: FastifyReply) => {
      reply.header("content-security-policy", CSP).header("referrer-policy", "no-referrer").header("x-frame-options", "DENY");
      return reply.sendFile("index.html");
    };
    scoped.get("/dashboard", { config, schema: hide }, page);
    scoped.get<{ Params: { "*": string } }>("/dashboard/*", { config, schema: hide }, async (request, reply) => {
      const rest = request.params["*"];
      if (rest !== "" && FILE_LIKE.test(rest)) return reply.sendFile(rest);
      return page(request, reply);
    });
  });
}

import { createHash } from "node:crypto";
import type { FastifyInstance } from "fastify";

/**
 * The policy for HTML pages that do not set their own: scripts and styles from this origin
 * only (no inline script), no framing (clickjacking on the buy pages), no plugins, no <base>.
 * A page that needs more (e.g. Swagger UI's own CSP with hashes) sets its header and keeps it.
 */
export const DEFAULT_HTML_CSP = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: https:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
  "form-action 'self' https:",
].join("; ");

/**
 * The default policy plus exactly these inline scripts (by SHA-256 hash), for a page that needs
 * one: set it on the reply and the hook leaves it alone.
 *
 * @example
 * ```ts
 * const SCRIPT = `document.getElementById("buy").onclick = …`;
 * reply.header("content-security-policy", cspAllowingScripts(SCRIPT)); // page has <script>${SCRIPT}</script>
 * ```
 */
export function cspAllowingScripts(...scripts: string[]): string {
  const hashes = scripts.map((s) => `'sha256-${createHash("sha256").update(s, "utf8").digest("base64")}'`);
  return DEFAULT_HTML_CSP.replace("script-src 'self'", ["script-src 'self'", ...hashes].join(" "));
}

/**
 * Security headers: `nosniff` on every response (a JSON body is never run as script), and on
 * HTML pages (`/docs`, `/dashboard`, `/buy/…`, whatever answers text/html) a CSP, no framing and
 * no referrer (buy-page URLs may carry a session id).
 */
export function installSecurityHeaders(app: FastifyInstance): void {
  app.addHook("onSend", (_request, reply, payload, done) => {
    reply.header("x-content-type-options", "nosniff");
    const type = reply.getHeader("content-type");
    if (typeof type === "string" && type.toLowerCase().startsWith("text/html")) {
      if (!reply.hasHeader("content-security-policy")) reply.header("content-security-policy", DEFAULT_HTML_CSP);
      const csp = String(reply.getHeader("content-security-policy"));
      if (!/frame-ancestors/i.test(csp)) reply.header("content-security-policy", `${csp}; frame-ancestors 'none'`);
      reply.header("x-frame-options", "DENY");
      reply.header("referrer-policy", "no-referrer");
      reply.header("cross-origin-opener-policy", "same-origin");
    }
    done(null, payload);
  });
}

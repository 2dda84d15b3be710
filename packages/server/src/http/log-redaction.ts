/**
 * Fields whose values never reach the log, wherever they appear: at the top of a log object or
 * up to two levels down (`req.headers.authorization`, `body.secret`). Fastify's request logging
 * is off and our access log records method, route, status and time only; this list is the net
 * under anything else that logs an object (an error with its request, a debug statement).
 */
export const CREDENTIAL_FIELDS = [
  "authorization",
  "cookie",
  "set-cookie",
  "secretKey",
  "key",
  "secret",
  "adminToken",
  "token",
  "hmacSecret",
  "password",
  "sig",
  "publicKey",
  "stripe-signature",
  "tally-signature",
] as const;

export const REDACTED_LOG_PATHS: string[] = CREDENTIAL_FIELDS.flatMap((f) =>
  /^[A-Za-z_$][\w$]*$/.test(f) ? [f, `*.${f}`, `*.*.${f}`] : [`["${f}"]`, `*["${f}"]`, `*.*["${f}"]`],
);

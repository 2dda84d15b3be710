import type { FastifyBaseLogger, FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { TallyError, type ErrorCode, ERROR_STATUS } from "../domain/errors.ts";
import { isContention, isUnavailable, isUnstorableText } from "../store/sql.ts";

/** Why a string with U+0000 is refused (PostgreSQL cannot store it; no name or key needs it). */
export const NUL_MESSAGE = "strings may not contain the NUL character (U+0000)";

export function envelope(code: ErrorCode, message: string, requestId: string, details?: Record<string, unknown>): string {
  const error: Record<string, unknown> = { code, message, status: ERROR_STATUS[code], requestId };
  if (details !== undefined) error["details"] = details;
  return JSON.stringify({ error });
}

function ajvPath(instancePath: string, missing?: unknown): string {
  const base = instancePath === "" ? "" : instancePath;
  return typeof missing === "string" ? `${base}/${missing}` : base || "/";
}

interface AjvIssue {
  instancePath: string;
  message?: string;
  keyword: string;
  params: Record<string, unknown>;
}

/**
 * A value outside a set of literals (`groupBy`, `status`, …) fails every branch of its `anyOf`
 * (one "must be equal to constant" each) and then the `anyOf`: one issue naming the choices says it.
 */
function collapseChoices(issues: readonly AjvIssue[]): AjvIssue[] {
  const choices = new Map<string, unknown[]>();
  const anyOfAt = new Set(issues.filter((v) => v.keyword === "anyOf").map((v) => v.instancePath));
  for (const v of issues) {
    if (v.keyword === "const" && anyOfAt.has(v.instancePath)) choices.set(v.instancePath, [...(choices.get(v.instancePath) ?? []), v.params["allowedValue"]]);
  }
  if (choices.size === 0) return [...issues];
  const out: AjvIssue[] = [];
  for (const v of issues) {
    const allowed = choices.get(v.instancePath);
    if (allowed === undefined || allowed.length < 2) out.push(v);
    else if (v.keyword === "anyOf") out.push({ ...v, message: `must be one of ${allowed.map((a) => JSON.stringify(a)).join(", ")}` });
  }
  return out;
}

export interface ErrorResponse {
  status: number;
  body: string;
  headers?: Record<string, string>;
}

/**
 * Turns anything thrown into the contract's envelope, for Fastify's error handler and for the
 * direct dispatcher alike (a validation failure arrives as Fastify shapes it: Ajv's issues in
 * `validation`, the part of the request in `validationContext`). Unknown errors are logged and
 * become a bare 500.
 */
export function toErrorResponse(error: unknown, requestId: string, log: FastifyBaseLogger): ErrorResponse {
  if (error instanceof TallyError) {
    return { status: error.status, body: envelope(error.code, error.message, requestId, error.details), ...(error.headers ? { headers: error.headers } : {}) };
  }
  const fe = error as FastifyError & { validation?: AjvIssue[]; validationContext?: string };
  if (Array.isArray(fe.validation)) {
    const where = fe.validationContext === "querystring" ? "query" : fe.validationContext ?? "body";
    const issues = collapseChoices(fe.validation).slice(0, 20).map((v) => {
      const extra =
        v.keyword === "additionalProperties" ? `/${String(v.params["additionalProperty"])}` : v.keyword === "required" ? `/${String(v.params["missingProperty"])}` : "";
      const path = ajvPath(v.instancePath) === "/" ? extra || "/" : ajvPath(v.instancePath) + extra;
      const message =
        v.keyword === "additionalProperties" ? "is not a known field" : v.keyword === "required" ? "is required" : (v.message ?? "is invalid");
      return { path, message, location: where };
    });
    const first = issues[0];
    return {
      status: 400,
      body: envelope("VALIDATION_ERROR", first ? `Invalid ${where}: ${first.path} ${first.message}` : "Invalid request", requestId, { issues }),
    };
  }
  switch (fe.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return { status: 413, body: envelope("PAYLOAD_TOO_LARGE", "Request body exceeds 1 MiB", requestId) };
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return { status: 415, body: envelope("UNSUPPORTED_MEDIA_TYPE", "Send JSON with content-type: application/json", requestId) };
    case "FST_ERR_CTP_INVALID_CONTENT_LENGTH":
    case "FST_ERR_CTP_EMPTY_JSON_BODY":
    case "FST_ERR_CTP_INVALID_JSON_BODY":
      return { status: 400, body: envelope("INVALID_JSON", "Request body is not valid JSON", requestId) };
  }
  if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
    if (fe.statusCode === 413) return { status: 413, body: envelope("PAYLOAD_TOO_LARGE", "Request is too large", requestId) };
    if (fe.statusCode === 415) return { status: 415, body: envelope("UNSUPPORTED_MEDIA_TYPE", "Unsupported content type", requestId) };
    if (fe.statusCode === 404) return { status: 404, body: envelope("NOT_FOUND", "Not found", requestId) };
    return { status: 400, body: envelope("VALIDATION_ERROR", "Malformed request", requestId, { issues: [{ path: "/", message: fe.message }] }) };
  }
  if (isUnavailable(error)) {
    log.warn({ err: error, reqId: requestId }, "database unavailable");
    return { status: 503, body: envelope("UNAVAILABLE", "The database is unavailable; retry shortly", requestId), headers: { "retry-after": "1" } };
  }
  if (isContention(error)) {
    // Nothing was written (the request's savepoint was rolled back), so a retry is safe.
    log.warn({ err: error, reqId: requestId }, "database contention outlasted retries");
    return { status: 503, body: envelope("UNAVAILABLE", "The database was too contended to finish this request; nothing was written, retry it", requestId), headers: { "retry-after": "1" } };
  }
  if (isUnstorableText(error)) {
    return { status: 400, body: envelope("VALIDATION_ERROR", "A string holds a character that cannot be stored", requestId, { issues: [{ path: "/", message: NUL_MESSAGE }] }) };
  }
  log.error({ err: error, reqId: requestId }, "unhandled error");
  return { status: 500, body: envelope("INTERNAL", "Internal error", requestId) };
}

export function sendError(reply: FastifyReply, request: FastifyRequest, error: unknown): FastifyReply {
  const { status, body, headers } = toErrorResponse(error, request.id, request.log);
  if (headers) for (const [k, v] of Object.entries(headers)) reply.header(k, v);
  return reply.code(status).type("application/json; charset=utf-8").send(body);
}

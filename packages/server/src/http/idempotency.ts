import { createHash } from "node:crypto";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { Database } from "../store/sql.ts";
import type { Clock } from "../domain/clock.ts";
import { TallyError, validationError } from "../domain/errors.ts";
import { LIMITS } from "../domain/limits.ts";
import { claimKey, completeKey, getKey, releaseKey, takeOver } from "../store/repo/idempotency.ts";

declare module "fastify" {
  interface FastifyRequest {
    idempotency?: { appId: string; key: string; replayed: boolean };
  }
}

/** Responses not worth keeping: the retry should run again. */
function isTransient(status: number, body: string): boolean {
  return status >= 500 || status === 429 || (status === 409 && body.includes('"IDEMPOTENCY_KEY_IN_USE"'));
}

/**
 * The `Idempotency-Key` header, Stripe's way: the first request with a key runs and its response
 * is stored; a repeat with the same method, path and body within 24 h gets that response again,
 * byte for byte, with `idempotent-replayed: true`; the same key on a different request is a 409,
 * and so is a repeat while the first is still running (retryable). Requests that fail validation
 * never claim a key.
 */
export class IdempotencyLayer {
  constructor(
    private readonly db: Database,
    private readonly clock: Clock,
  ) {}

  /** Runs before the handler. Returns true when it already answered (replay or conflict). */
  async begin(request: FastifyRequest, reply: FastifyReply, appId: string): Promise<boolean> {
    const header = request.headers["idempotency-key"];
    if (header === undefined) return false;
    const key = Array.isArray(header) ? header[0]! : header;
    if (key.length < 1 || key.length > LIMITS.idempotencyKeyLengthMax) {
      throw validationError("/headers/idempotency-key", `must be 1–${LIMITS.idempotencyKeyLengthMax} characters`);
    }
    const fingerprint = createHash("sha256")
      .update(`${request.method} ${request.url}\n`)
      .update(request.rawBody ?? "")
      .digest("hex");
    const nowMs = this.clock.nowMs();
    const lockedUntil = nowMs + LIMITS.idempotencyLockMs;
    const outcome = await this.db.transaction(async (tx) => {
      if (await claimKey(tx, appId, key, fingerprint, nowMs, lockedUntil)) return { kind: "claimed" as const };
      const existing = await getKey(tx, appId, key);
      if (existing === undefined) return { kind: "retry" as const };
      const stale = existing.createdAtMs + LIMITS.idempotencyWindowMs <= nowMs || (existing.state === "running" && existing.lockedUntilMs <= nowMs);
      if (stale) {
        return (await takeOver(tx, appId, key, existing, fingerprint, nowMs, lockedUntil)) ? { kind: "claimed" as const } : { kind: "retry" as const };
      }
      return { kind: "existing" as const, row: existing };
    });
    if (outcome.kind === "retry") {
      throw new TallyError("IDEMPOTENCY_KEY_IN_USE", "A request with this Idempotency-Key is in progress; retry shortly", { idempotencyKey: key });
    }
    if (outcome.kind === "claimed") {
      request.idempotency = { appId, key, replayed: false };
      return false;
    }
    const row = outcome.row;
    if (row.fingerprint !== fingerprint) {
      throw new TallyError("IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was used with a different request (method, path or body)", {
        idempotencyKey: key,
      });
    }
    if (row.state === "running" || row.statusCode === null || row.responseBody === null) {
      throw new TallyError("IDEMPOTENCY_KEY_IN_USE", "A request with this Idempotency-Key is in progress; retry shortly", { idempotencyKey: key });
    }
    request.idempotency = { appId, key, replayed: true };
    reply.code(row.statusCode).header("idempotent-replayed", "true").type("application/json; charset=utf-8").send(row.responseBody);
    return true;
  }

  /** Runs as the response is sent: keeps a final answer, or frees the key for a retry. */
  async finish(request: FastifyRequest, statusCode: number, payload: string): Promise<void> {
    const idem = request.idempotency;
    if (idem === undefined || idem.replayed) return;
    if (isTransient(statusCode, payload)) {
      await this.db.transaction((tx) => releaseKey(tx, idem.appId, idem.key)).catch(() => undefined);
    } else {
      await this.db.transaction((tx) => completeKey(tx, idem.appId, idem.key, statusCode, payload));
    }
  }
}

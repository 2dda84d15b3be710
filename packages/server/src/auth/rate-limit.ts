import type { Database } from "../store/sql.ts";
import { addToWindow, deleteWindowsBefore } from "../store/repo/rate-limits.ts";
import type { SecurityConfig } from "./config.ts";

/**
 * Per-key request limits. `take(bucket)` answers 0 when the request may go ahead, or the number
 * of seconds to wait (for `retry-after`). Synchronous where it can be: it is on every request.
 */
export interface RateLimiter {
  take(bucket: string): number | Promise<number>;
}

export const noRateLimit: RateLimiter = { take: () => 0 };

/**
 * A token bucket per key in this process's memory: `burst` requests at once, refilled at
 * `ratePerSecond`. Used with SQLite, where one process serves the database, so a local count is
 * the whole count and costs no I/O.
 */
export class TokenBucketLimiter implements RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; atMs: number }>();

  constructor(
    private readonly ratePerSecond: number,
    private readonly burst: number,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  take(bucket: string): number {
    const now = this.nowMs();
    let state = this.buckets.get(bucket);
    if (state === undefined) {
      if (this.buckets.size >= 100_000) this.forgetFull(now);
      state = { tokens: this.burst, atMs: now };
      this.buckets.set(bucket, state);
    } else {
      state.tokens = Math.min(this.burst, state.tokens + ((now - state.atMs) * this.ratePerSecond) / 1000);
      state.atMs = now;
    }
    if (state.tokens >= 1) {
      state.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - state.tokens) / this.ratePerSecond));
  }

  /** A bucket that has refilled completely is the same as no bucket. */
  private forgetFull(now: number): void {
    for (const [key, s] of this.buckets) {
      if (s.tokens + ((now - s.atMs) * this.ratePerSecond) / 1000 >= this.burst) this.buckets.delete(key);
    }
  }
}

interface WindowState {
  windowStartMs: number;
  /** The window's total across every process, as of this process's last flush. */
  known: number;
  /** Counted here, not yet added to the shared row. */
  pending: number;
  /** Being added to the shared row right now. */
  inflight: number;
}

/**
 * A fixed-window counter per key shared by every process through PostgreSQL: windows of
 * `burst / ratePerSecond` seconds allowing `burst` requests each (so `ratePerSecond` on average).
 *
 * Writing the shared row on every request would add a database write to the hot path, so each
 * process counts locally and adds its count to the row (one upsert, `RETURNING` the window's
 * total) every `flushEvery` requests: a tenth of the limit, or every request for small limits.
 * The price is precision: N processes may together overshoot the limit by up to N × flushEvery
 * requests per window.
 */
export class SharedWindowLimiter implements RateLimiter {
  private readonly windows = new Map<string, WindowState>();
  private readonly windowMs: number;
  private readonly limit: number;
  private readonly flushEvery: number;
  private lastCleanupMs = 0;

  constructor(
    private readonly db: Database,
    ratePerSecond: number,
    burst: number,
    private readonly nowMs: () => number = () => Date.now(),
  ) {
    this.windowMs = Math.max(1000, Math.round((burst * 1000) / ratePerSecond));
    this.limit = burst;
    this.flushEvery = Math.max(1, Math.floor(burst / 10));
  }

  take(bucket: string): number | Promise<number> {
    const now = this.nowMs();
    const windowStartMs = now - (now % this.windowMs);
    let state = this.windows.get(bucket);
    if (state === undefined || state.windowStartMs !== windowStartMs) {
      if (state === undefined && this.windows.size >= 100_000) this.forgetOld(windowStartMs);
      state = { windowStartMs, known: 0, pending: 0, inflight: 0 };
      this.windows.set(bucket, state);
    }
    const retryAfter = Math.max(1, Math.ceil((windowStartMs + this.windowMs - now) / 1000));
    if (state.known + state.pending + state.inflight >= this.limit) return retryAfter;
    state.pending += 1;
    if (state.pending < this.flushEvery) return 0;
    return this.flush(bucket, state, now).then((total) => (total > this.limit ? retryAfter : 0));
  }

  private async flush(bucket: string, state: WindowState, now: number): Promise<number> {
    const count = state.pending;
    state.pending = 0;
    state.inflight += count;
    try {
      const total = await this.db.transaction(async (tx) => {
        if (now - this.lastCleanupMs > 60_000) {
          this.lastCleanupMs = now;
          await deleteWindowsBefore(tx, now - 10 * this.windowMs - 60_000);
        }
        return addToWindow(tx, bucket, state.windowStartMs, count);
      }, { label: "rate-limit" });
      state.known = Math.max(state.known, total);
      return total;
    } catch {
      // The limiter protects the database; it must not take the API down with it when the
      // database hiccups. The request's own query will report the outage.
      return 0;
    } finally {
      state.inflight -= count;
    }
  }

  private forgetOld(currentWindowStartMs: number): void {
    for (const [key, s] of this.windows) if (s.windowStartMs !== currentWindowStartMs) this.windows.delete(key);
  }
}

/** The limiter for a deployment: none, in memory (SQLite, one process) or shared (PostgreSQL). */
export function createRateLimiter(db: Database, config: Pick<SecurityConfig, "rateLimitPerSecond" | "rateLimitBurst">): RateLimiter {
  if (config.rateLimitPerSecond === 0) return noRateLimit;
  if (db.dialect.name === "postgres") return new SharedWindowLimiter(db, config.rateLimitPerSecond, config.rateLimitBurst);
  return new TokenBucketLimiter(config.rateLimitPerSecond, config.rateLimitBurst);
}

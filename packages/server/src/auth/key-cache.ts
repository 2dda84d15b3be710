import type { ApiKeyRecord } from "../store/records.ts";
import type { ChangeFeed, Database } from "../store/sql.ts";

/** The channel on which a revocation is announced to every server process (PostgreSQL). */
export const API_KEYS_CHANNEL = "tally_api_keys";

/** How long a cached key is trusted without asking the database again. */
export const KEY_CACHE_TTL_MS = 1000;

/** Bound on cached keys per process; past it the cache starts over. */
const KEY_CACHE_ENTRIES_MAX = 10_000;

interface Entry {
  readonly key: ApiKeyRecord;
  readonly fetchedAtMs: number;
}

/**
 * Live secret keys by the SHA-256 of the key, so the hot path authenticates without a database
 * read. Only live keys are cached (never "unknown" or "revoked"), so a new key works at once.
 *
 * A revocation must hold on the next request everywhere:
 *  - in this process, the revoking route calls `forget()` before it answers;
 *  - on PostgreSQL, the revoking transaction NOTIFYs {@link API_KEYS_CHANNEL} and every process
 *    LISTENs: a notification empties the cache. While that listening connection is down, nothing
 *    is served from the cache;
 *  - anything else (another process on the same SQLite file) is bounded by `ttlMs`.
 * `generation` makes a lookup that raced a `forget()` unable to put a stale key back.
 */
export class ApiKeyCache {
  private readonly entries = new Map<string, Entry>();
  private generation = 0;
  private readonly feed: ChangeFeed | undefined;

  constructor(
    db: Database,
    private readonly ttlMs: number = KEY_CACHE_TTL_MS,
  ) {
    this.feed = db.listen?.(API_KEYS_CHANNEL, () => this.forget());
  }

  /** A cached live key, or undefined when it must be read from the database. */
  get(secretHash: string, nowMs: number): ApiKeyRecord | undefined {
    if (this.ttlMs <= 0 || (this.feed !== undefined && !this.feed.live)) return undefined;
    const entry = this.entries.get(secretHash);
    if (entry === undefined) return undefined;
    if (nowMs - entry.fetchedAtMs >= this.ttlMs || nowMs < entry.fetchedAtMs) {
      this.entries.delete(secretHash);
      return undefined;
    }
    return entry.key;
  }

  /** The generation to pass to `put` after reading a key: taken before the read. */
  get currentGeneration(): number {
    return this.generation;
  }

  put(secretHash: string, key: ApiKeyRecord, nowMs: number, generationAtRead: number): void {
    if (this.ttlMs <= 0 || generationAtRead !== this.generation || key.revokedAtMs !== null) return;
    if (this.entries.size >= KEY_CACHE_ENTRIES_MAX) this.entries.clear();
    this.entries.set(secretHash, { key, fetchedAtMs: nowMs });
  }

  /** Drops every cached key: something about keys changed. */
  forget(): void {
    this.generation++;
    this.entries.clear();
  }

  async close(): Promise<void> {
    await this.feed?.close();
  }
}

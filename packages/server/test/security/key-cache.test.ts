import { describe, expect, it } from "vitest";
import { ApiKeyCache } from "../../src/auth/key-cache.ts";
import type { ApiKeyRecord } from "../../src/store/records.ts";
import type { ChangeFeed, Database } from "../../src/store/sql.ts";

const key = (revokedAtMs: number | null = null): ApiKeyRecord => ({
  appId: "app_1",
  id: "key_1",
  name: "k",
  type: "secret",
  scopes: ["read", "write"],
  secretHash: "h",
  secretSealed: null,
  hint: "abcd",
  createdAtMs: 0,
  revokedAtMs,
  lastUsedAtMs: null,
});

/** A database without LISTEN (like SQLite), or with a feed whose liveness and announcements the test drives. */
function database(feed?: { live: boolean; fire?: () => void }): Database {
  const db = {} as Database;
  if (feed !== undefined) {
    (db as { listen: Database["listen"] }).listen = (_channel: string, onNotify: () => void): ChangeFeed => {
      feed.fire = onNotify;
      return { get live() { return feed.live; }, close: async () => undefined };
    };
  }
  return db;
}

describe("the API key cache", () => {
  it("serves a live key until its time to live runs out, then asks the database again", () => {
    const cache = new ApiKeyCache(database(), 1000);
    cache.put("h", key(), 0, cache.currentGeneration);
    expect(cache.get("h", 999)?.id).toBe("key_1");
    expect(cache.get("h", 1000)).toBeUndefined();
  });

  it("never caches a revoked key, and forgets everything on forget()", () => {
    const cache = new ApiKeyCache(database(), 1000);
    cache.put("h", key(5), 0, cache.currentGeneration);
    expect(cache.get("h", 1)).toBeUndefined();
    cache.put("h", key(), 0, cache.currentGeneration);
    cache.forget();
    expect(cache.get("h", 1)).toBeUndefined();
  });

  it("does not let a read that raced a revocation put the stale key back", () => {
    const cache = new ApiKeyCache(database(), 1000);
    const before = cache.currentGeneration; // the read starts...
    cache.forget(); // ...a revocation lands meanwhile...
    cache.put("h", key(), 0, before); // ...and the read's (now stale) answer arrives
    expect(cache.get("h", 1)).toBeUndefined();
  });

  it("serves nothing while the change feed is down, and drops everything on an announcement", () => {
    const feed: { live: boolean; fire?: () => void } = { live: true };
    const cache = new ApiKeyCache(database(feed), 60_000);
    cache.put("h", key(), 0, cache.currentGeneration);
    expect(cache.get("h", 1)?.id).toBe("key_1");
    feed.live = false;
    expect(cache.get("h", 1)).toBeUndefined();
    feed.live = true;
    cache.put("h", key(), 0, cache.currentGeneration);
    feed.fire!();
    expect(cache.get("h", 1)).toBeUndefined();
  });

  it("is off with a time to live of 0", () => {
    const cache = new ApiKeyCache(database(), 0);
    cache.put("h", key(), 0, cache.currentGeneration);
    expect(cache.get("h", 0)).toBeUndefined();
  });
});

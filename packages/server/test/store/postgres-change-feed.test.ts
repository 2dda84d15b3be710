import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresDatabase } from "../../src/store/postgres/database.ts";
import type { ChangeFeed } from "../../src/store/sql.ts";
import { freshDatabase, postgresAvailable } from "../support/databases.ts";

const until = async (what: string, check: () => boolean, timeoutMs = 10_000): Promise<void> => {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** The key cache trusts this feed: it must deliver announcements, and say when it cannot. */
describe.skipIf(!postgresAvailable)("PostgreSQL change feed (LISTEN/NOTIFY)", () => {
  let cleanup: () => Promise<void>;
  let listener: PostgresDatabase;
  let other: PostgresDatabase;
  let feed: ChangeFeed;
  let notified = 0;

  beforeAll(async () => {
    const fresh = await freshDatabase("postgres");
    cleanup = fresh.cleanup;
    listener = new PostgresDatabase({ connectionString: fresh.url, poolSize: 3 });
    other = new PostgresDatabase({ connectionString: fresh.url, poolSize: 3 });
    feed = listener.listen("tally_test_feed", () => notified++);
    await until("the feed is live", () => feed.live);
  });
  afterAll(async () => {
    await listener?.close();
    await other?.close();
    await cleanup?.();
  });

  it("delivers a NOTIFY committed by another process, and nothing before the commit", async () => {
    const before = notified;
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const tx = other.transaction(async (t) => {
      await t.get("SELECT pg_notify('tally_test_feed', 'x') AS n");
      await held;
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(notified).toBe(before);
    release();
    await tx;
    await until("the announcement arrives", () => notified > before);
  });

  it("says it is not live while its connection is gone, then reconnects and reports a change (announcements may have been lost)", async () => {
    const before = notified;
    await other.transaction((t) => t.get("SELECT pg_terminate_backend(pid) AS t FROM pg_stat_activity WHERE query LIKE 'LISTEN tally_test_feed%'"));
    await until("the feed notices", () => !feed.live);
    await until("the feed is live again", () => feed.live);
    expect(notified).toBeGreaterThan(before);
    const after = notified;
    await other.transaction((t) => t.get("SELECT pg_notify('tally_test_feed', 'y') AS n"));
    await until("announcements flow again", () => notified > after);
  });
});

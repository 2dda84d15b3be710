import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES, freshDatabase } from "../support/databases.ts";
import { call, type Api } from "../support/http.ts";
import { expectError, expectStatus } from "../http/expect.ts";
import { startTestServer, type TestServer } from "../../src/testing.ts";
import { TokenBucketLimiter } from "../../src/auth/rate-limit.ts";
import { TEST_SECRET_KEY } from "./support.ts";

// 2 requests/s sustained, 4 at once: with PostgreSQL, windows of 2 s allowing 4 requests each.
const RATE = 2;
const BURST = 4;
const env = { TALLY_SECRET_KEY: TEST_SECRET_KEY, TALLY_RATE_LIMIT_PER_SECOND: String(RATE), TALLY_RATE_LIMIT_BURST: String(BURST) };
const windowOf = (ms: number) => Math.floor(ms / ((BURST / RATE) * 1000));

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`rate limits per key on ${kind}`, () => {
    let first: TestServer;
    let second: TestServer;
    let cleanup: () => Promise<void>;
    let admin: string;

    beforeAll(async () => {
      const db = await freshDatabase(kind);
      first = await startTestServer({ database: db.url, env, jobs: false });
      second = kind === "postgres" ? await startTestServer({ database: db.url, env, jobs: false }) : first;
      cleanup = async () => {
        if (second !== first) await second.close();
        await first.close();
        await db.cleanup();
      };
      admin = first.adminToken;
    }, 60_000);
    afterAll(async () => cleanup?.());

    /** Sends `n` requests with `key`, alternating between the processes; retried if a window boundary fell inside. */
    async function burst(key: string, n: number): Promise<Api[]> {
      for (let attempt = 0; ; attempt++) {
        const startWindow = windowOf(Date.now());
        const out: Api[] = [];
        for (let i = 0; i < n; i++) out.push(await call((i % 2 === 0 ? first : second).url, key, "GET", "/v1/app"));
        if (windowOf(Date.now()) === startWindow || kind === "sqlite" || attempt === 2) return out;
        await new Promise((r) => setTimeout(r, (BURST / RATE) * 1000));
      }
    }

    it(`answers 429 RATE_LIMITED with retry-after once a key has used its burst${kind === "postgres" ? ", counted across server processes" : ""}`, async () => {
      const { secretKey } = await first.createApp("limited");
      const answers = await burst(secretKey, BURST + 3);
      expect(answers.filter((a) => a.status === 200)).toHaveLength(BURST);
      const limited = answers.filter((a) => a.status === 429);
      expect(limited).toHaveLength(3);
      for (const res of limited) {
        expectError(res, 429, "RATE_LIMITED");
        const retryAfter = Number(res.headers.get("retry-after"));
        expect(retryAfter).toBeGreaterThanOrEqual(1);
        expect(retryAfter).toBeLessThanOrEqual(BURST / RATE);
      }
    });

    it("limits each key on its own: another key, and the operator's admin token, are unaffected", async () => {
      const { appId, secretKey } = await first.createApp("neighbour");
      await burst(secretKey, BURST + 1);
      const { secretKey: other } = await first.createApp("other");
      expectStatus(await call(first.url, other, "GET", "/v1/app"), 200);
      expectStatus(await call(first.url, admin, "GET", "/v1/app", undefined, { "tally-app": appId }), 200);
    });

    it("lets the key in again after retry-after", async () => {
      const { secretKey } = await first.createApp("recovers");
      const answers = await burst(secretKey, BURST + 1);
      const wait = Number(answers.at(-1)!.headers.get("retry-after"));
      await new Promise((r) => setTimeout(r, wait * 1000 + 50));
      expectStatus(await call(first.url, secretKey, "GET", "/v1/app"), 200);
    }, 15_000);
  });
}

describe("the in-process token bucket (SQLite)", () => {
  it("allows the burst at once, then refills at the rate", () => {
    let t = 0;
    const bucket = new TokenBucketLimiter(10, 20, () => t);
    for (let i = 0; i < 20; i++) expect(bucket.take("k")).toBe(0);
    expect(bucket.take("k")).toBe(1);
    t += 100;
    expect(bucket.take("k")).toBe(0);
    expect(bucket.take("k")).toBeGreaterThan(0);
    expect(bucket.take("other")).toBe(0);
  });
});

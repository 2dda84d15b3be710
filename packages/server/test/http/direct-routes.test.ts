import { request as httpRequest } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../src/testing.ts";
import { DATABASES, freshDatabase } from "../support/databases.ts";

/*
 * The direct dispatcher (src/http/direct-routes.ts) answers the hot routes' common requests
 * without Fastify. It must answer exactly as Fastify would. Two servers, one with the dispatcher
 * and one without (TALLY_DIRECT_ROUTES=off), get the same requests in the same order; every
 * answer must match (status, headers, body, up to ids and timestamps), and the dispatcher's
 * counter must show which requests it took: the ones it may take, and no others.
 */

/*
 * Whether the dispatcher takes a request depends on its key being cached, and a cached key
 * expires (1 s by default). On a loaded CI machine a pause between the request that cached the
 * key and the case's own request once outlasted that second, and the dispatcher rightly passed
 * the request to Fastify. These servers keep a key for ten minutes, so what a case proves does
 * not depend on how fast the machine is.
 */
const KEY_CACHE_TTL_FOR_TESTS_MS = 600_000;

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
}

interface Outgoing {
  method: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  /** Sent in chunks without a declared length. */
  chunked?: boolean;
}

function send(baseUrl: string, out: Outgoing): Promise<Answer> {
  const url = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { ...out.headers };
    if (out.body !== undefined && !out.chunked) headers["content-length"] = String(Buffer.byteLength(out.body));
    const req = httpRequest({ host: url.hostname, port: url.port, method: out.method, path: out.path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(chunks).toString("utf8") }));
      res.on("error", reject);
    });
    req.on("error", reject);
    if (out.body !== undefined && out.chunked) {
      const half = Math.floor(out.body.length / 2);
      req.write(out.body.slice(0, half));
      req.write(out.body.slice(half));
    } else if (out.body !== undefined) {
      req.write(out.body);
    }
    req.end();
  });
}

/** Ids and timestamps differ between the two servers; everything else must not. */
function normalize(text: string): string {
  return text
    .replace(/\b([a-z]{2,5})_[0-9A-HJKMNP-TV-Z]{26}\b/g, "$1_<id>")
    .replace(/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, "<time>");
}

/** Headers that differ by nature between two servers and two moments. */
const VARYING_HEADERS = new Set(["date", "x-request-id", "keep-alive", "connection"]);

function comparableHeaders(headers: Answer["headers"]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!VARYING_HEADERS.has(name)) out[name] = normalize(String(value));
  }
  return out;
}

async function directCount(server: TestServer): Promise<number> {
  const res = await send(server.url, { method: "GET", path: "/metrics" });
  const line = res.text.split("\n").find((l) => l.startsWith("tally_http_direct_requests_total "));
  if (line === undefined) throw new Error("tally_http_direct_requests_total is not exported");
  return Number(line.split(" ")[1]);
}

interface Side {
  server: TestServer;
  key: string;
  readKey: string;
  /** Ids this side's earlier answers returned, for later requests (each side has its own). */
  saved: Map<string, string>;
}

/** One request, built per side from what that side answered before. */
interface Case {
  name: string;
  /** Whether the dispatcher may take it (else Fastify must). */
  direct: boolean;
  build(side: Side): Outgoing;
  /** Ids to remember from the answer: name → path into the JSON body. */
  save?: Record<string, string[]>;
}

const json = (key: string, method: string, path: string, body: unknown, extra: Record<string, string> = {}): Outgoing => ({
  method,
  path,
  headers: { authorization: `Bearer ${key}`, "content-type": "application/json", ...extra },
  body: typeof body === "string" ? body : JSON.stringify(body),
});
const get = (key: string, path: string, extra: Record<string, string> = {}): Outgoing => ({ method: "GET", path, headers: { authorization: `Bearer ${key}`, ...extra } });

const CASES: Case[] = [
  { name: "grant", direct: true, build: (s) => json(s.key, "POST", "/v1/credits/grant", { externalId: "u1", amount: 1000 }), save: { account: ["balance", "accountId"] } },
  { name: "deduct", direct: true, build: (s) => json(s.key, "POST", "/v1/credits/deduct", { externalId: "u1", amount: 10, operation: "chat", idempotencyKey: "k1" }), save: { txn: ["transaction", "id"] } },
  { name: "deduct retried with its key", direct: true, build: (s) => json(s.key, "POST", "/v1/credits/deduct", { externalId: "u1", amount: 10, operation: "chat", idempotencyKey: "k1" }) },
  { name: "deduct reusing a key for another amount", direct: true, build: (s) => json(s.key, "POST", "/v1/credits/deduct", { externalId: "u1", amount: 11, idempotencyKey: "k1" }) },
  { name: "deduct by account id with charset", direct: true, build: (s) => json(s.key, "POST", "/v1/credits/deduct", { accountId: s.saved.get("account"), amount: 5 }, { "content-type": "application/json; charset=utf-8" }) },
  { name: "deduct more than the balance (402)", direct: true, build: (s) => json(s.key, "POST", "/v1/credits/deduct", { externalId: "u1", amount: 1_000_000 }) },
  { name: "deduct from an unknown account (404)", direct: true, build: (s) => json(s.key, "POST", "/v1/credits/deduct", { accountId: "acct_01M96XKG5GCTJN5J7PSPWNKP7Z", amount: 1 }) },
  { name: "deduct dry run (200)", direct: true, build: (s) => json(s.key, "POST", "/v1/credits/deduct", { externalId: "u1", amount: 3, dryRun: true }) },
  { name: "deduct with malformed JSON", direct: true, build: (s) => json(s.key, "POST", "/v1/credits/deduct", '{"externalId":') },
  { name: "deduct with a __proto__ key", direct: true, build: (s) => json(s.key, "POST", "/v1/credits/deduct", '{"externalId":"u1","amount":1,"__proto__":{"x":1}}') },
  { name: "deduct with an unknown field", direct: true, build: (s) => json(s.key, "POST", "/v1/credits/deduct", { externalId: "u1", amount: 1, colour: "red" }) },
  { name: "deduct with a string amount", direct: true, build: (s) => json(s.key, "POST", "/v1/credits/deduct", { externalId: "u1", amount: "5" }) },
  { name: "deduct with an empty body", direct: true, build: (s) => json(s.key, "POST", "/v1/credits/deduct", "") },
  { name: "deduct with a JSON array body", direct: true, build: (s) => json(s.key, "POST", "/v1/credits/deduct", "[1,2]") },
  { name: "deduct with a read-only key (403)", direct: true, build: (s) => json(s.readKey, "POST", "/v1/credits/deduct", { externalId: "u1", amount: 1 }) },
  { name: "deduct with an Idempotency-Key header", direct: false, build: (s) => json(s.key, "POST", "/v1/credits/deduct", { externalId: "u1", amount: 2 }, { "idempotency-key": "h1" }) },
  { name: "deduct with an upper-case content type", direct: false, build: (s) => json(s.key, "POST", "/v1/credits/deduct", { externalId: "u1", amount: 1 }, { "content-type": "Application/JSON" }) },
  { name: "deduct with a text body (415)", direct: false, build: (s) => json(s.key, "POST", "/v1/credits/deduct", "hello", { "content-type": "text/plain" }) },
  { name: "deduct with a query string", direct: false, build: (s) => json(s.key, "POST", "/v1/credits/deduct?x=1", { externalId: "u1", amount: 1 }) },
  { name: "deduct with a chunked body", direct: false, build: (s) => ({ ...json(s.key, "POST", "/v1/credits/deduct", { externalId: "u1", amount: 1 }), chunked: true }) },
  { name: "deduct with an unknown key (401)", direct: false, build: () => json("sk_01M96XKD5RGNB3JTTRCSWH6RWN_RoTJwbyy2sBAen0I5pYIWT8C0PZaGX3qEAZYmTQTqVY", "POST", "/v1/credits/deduct", { externalId: "u1", amount: 1 }) },
  { name: "deduct without credentials (401)", direct: false, build: () => ({ method: "POST", path: "/v1/credits/deduct", headers: { "content-type": "application/json" }, body: "{}" }) },
  { name: "deduct at a trailing-slash path", direct: false, build: (s) => json(s.key, "POST", "/v1/credits/deduct/", { externalId: "u1", amount: 1 }) },
  { name: "reserve", direct: true, build: (s) => json(s.key, "POST", "/v1/reservations", { externalId: "u1", amount: 50, ttlSeconds: 60 }), save: { rsv: ["id"] } },
  { name: "confirm", direct: true, build: (s) => json(s.key, "POST", `/v1/reservations/${s.saved.get("rsv")}/confirm`, { amount: 20 }) },
  { name: "confirm again (already settled)", direct: true, build: (s) => json(s.key, "POST", `/v1/reservations/${s.saved.get("rsv")}/confirm`, { amount: 20 }) },
  { name: "reserve another", direct: true, build: (s) => json(s.key, "POST", "/v1/reservations", { externalId: "u1", amount: 5 }), save: { rsv2: ["id"] } },
  { name: "cancel", direct: true, build: (s) => json(s.key, "POST", `/v1/reservations/${s.saved.get("rsv2")}/cancel`, {}) },
  { name: "confirm an unknown reservation (404)", direct: true, build: (s) => json(s.key, "POST", "/v1/reservations/rsv_01M96XKG5GCTJN5J7PSPWNKP7Z/confirm", {}) },
  { name: "confirm without a body", direct: false, build: (s) => ({ method: "POST", path: `/v1/reservations/${s.saved.get("rsv")}/confirm`, headers: { authorization: `Bearer ${s.key}` } }) },
  { name: "balance", direct: true, build: (s) => get(s.key, `/v1/accounts/${s.saved.get("account")}/balance`) },
  { name: "balance with the read-only key", direct: true, build: (s) => get(s.readKey, `/v1/accounts/${s.saved.get("account")}/balance`) },
  { name: "balances", direct: true, build: (s) => get(s.key, `/v1/accounts/${s.saved.get("account")}/balances`) },
  { name: "balance of an unknown account (404)", direct: true, build: (s) => get(s.key, "/v1/accounts/acct_01M96XKG5GCTJN5J7PSPWNKP7Z/balance") },
  { name: "balance with an id past the length limit", direct: false, build: (s) => get(s.key, `/v1/accounts/${"a".repeat(301)}/balance`) },
  { name: "balance with an id of 65 characters (validation)", direct: true, build: (s) => get(s.key, `/v1/accounts/${"a".repeat(65)}/balance`) },
  { name: "balance with a query string", direct: false, build: (s) => get(s.key, `/v1/accounts/${s.saved.get("account")}/balance?unit=credits`) },
  { name: "balance with an escaped id", direct: false, build: (s) => get(s.key, `/v1/accounts/${s.saved.get("account")!.replace("_", "%5F")}/balance`) },
  { name: "a path another route owns (by-external-id/balance)", direct: false, build: (s) => get(s.key, "/v1/accounts/by-external-id/balance") },
  { name: "balance by HEAD", direct: false, build: (s) => ({ method: "HEAD", path: `/v1/accounts/${s.saved.get("account")}/balance`, headers: { authorization: `Bearer ${s.key}` } }) },
  { name: "usage", direct: true, build: (s) => json(s.key, "POST", "/v1/usage", { externalId: "u1", modelId: "gpt-x", usageType: "text", inputTokens: 10, outputTokens: 5 }) },
  { name: "usage without a model (400)", direct: true, build: (s) => json(s.key, "POST", "/v1/usage", { externalId: "u1", usageType: "text" }) },
  { name: "a route that is not direct (transactions)", direct: false, build: (s) => get(s.key, `/v1/transactions?accountId=${s.saved.get("account")}`) },
];

function pick(body: unknown, path: string[]): string {
  let at: unknown = body;
  for (const p of path) at = (at as Record<string, unknown>)[p];
  if (typeof at !== "string") throw new Error(`no ${path.join(".")} in ${JSON.stringify(body)}`);
  return at;
}

describe("the direct dispatcher of the hot routes", () => {
  let direct: Side;
  let fastifyOnly: Side;

  async function side(env: Record<string, string>): Promise<Side> {
    const server = await startTestServer({ jobs: false, env, keyCacheTtlMs: KEY_CACHE_TTL_FOR_TESTS_MS });
    const { secretKey } = await server.createApp("direct");
    const created = await send(server.url, json(secretKey, "POST", "/v1/api-keys", { name: "reader", scopes: ["read"] }));
    expect(created.status, created.text).toBe(201);
    return { server, key: secretKey, readKey: JSON.parse(created.text).key, saved: new Map() };
  }

  beforeAll(async () => {
    direct = await side({});
    fastifyOnly = await side({ TALLY_DIRECT_ROUTES: "off" });
  }, 60_000);
  afterAll(async () => {
    await direct?.server.close();
    await fastifyOnly?.server.close();
  });

  it("answers every request exactly as Fastify does, and takes only the requests it may", async () => {
    for (const c of CASES) {
      const answers: Answer[] = [];
      for (const s of [direct, fastifyOnly]) {
        // The dispatcher takes only requests whose key is cached; these requests read both keys
        // (on Fastify's path), so the case's own request finds them cached.
        await send(s.server.url, get(s.key, "/v1/app"));
        await send(s.server.url, get(s.readKey, "/v1/app"));
        const before = await directCount(s.server);
        const answer = await send(s.server.url, c.build(s));
        const taken = (await directCount(s.server)) - before;
        expect(taken, `${c.name}: requests the dispatcher took`).toBe(s === direct && c.direct ? 1 : 0);
        for (const [name, path] of Object.entries(c.save ?? {})) s.saved.set(name, pick(JSON.parse(answer.text), path));
        answers.push(answer);
      }
      const [mine, theirs] = answers as [Answer, Answer];
      expect(mine.status, `${c.name}: ${mine.text}`).toBe(theirs.status);
      expect(normalize(mine.text), c.name).toBe(normalize(theirs.text));
      expect(comparableHeaders(mine.headers), c.name).toEqual(comparableHeaders(theirs.headers));
      expect(mine.headers["x-request-id"], c.name).toMatch(/^req_/);
      if (mine.text.includes('"requestId"')) expect(JSON.parse(mine.text).error.requestId, c.name).toBe(mine.headers["x-request-id"]);
    }
  });

  it("counts a request it answered in the same per-route metrics and latency histogram as Fastify's", async () => {
    const { url } = direct.server;
    await send(url, get(direct.key, "/v1/app"));
    const granted = JSON.parse((await send(url, json(direct.key, "POST", "/v1/credits/grant", { externalId: "m1", amount: 100 }))).text);
    expect((await send(url, json(direct.key, "POST", "/v1/credits/deduct", { externalId: "m1", amount: 1 }))).status).toBe(201);
    const reserved = JSON.parse((await send(url, json(direct.key, "POST", "/v1/reservations", { externalId: "m1", amount: 5 }))).text);
    expect((await send(url, json(direct.key, "POST", `/v1/reservations/${reserved.id}/confirm`, { amount: 2 }))).status).toBe(200);
    expect((await send(url, get(direct.key, `/v1/accounts/${granted.balance.accountId}/balance`))).status).toBe(200);
    const metrics = await send(url, { method: "GET", path: "/metrics" });
    expect(metrics.text).toMatch(/tally_http_requests_total\{method="POST",route="\/v1\/credits\/deduct",status="201"\} [1-9]/);
    expect(metrics.text).toMatch(/tally_http_requests_total\{method="POST",route="\/v1\/reservations\/:id\/confirm",status="200"\} [1-9]/);
    expect(metrics.text).toMatch(/tally_http_request_duration_seconds_count\{method="GET",route="\/v1\/accounts\/:accountId\/balance"\} [1-9]/);
  });
});

// On SQLite the limit is a token bucket in memory; on PostgreSQL a window shared through the
// database, whose check is asynchronous (a promise on the direct path too).
for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`the direct dispatcher and the rate limit on ${kind}`, () => {
    let server: TestServer;
    let cleanup: () => Promise<void>;
    let key: string;
    beforeAll(async () => {
      const db = await freshDatabase(kind);
      server = await startTestServer({ database: db.url, jobs: false, keyCacheTtlMs: KEY_CACHE_TTL_FOR_TESTS_MS, env: { TALLY_RATE_LIMIT_PER_SECOND: "1", TALLY_RATE_LIMIT_BURST: "3" } });
      cleanup = async () => {
        await server.close();
        await db.cleanup();
      };
      key = (await server.createApp("limited")).secretKey;
    }, 60_000);
    afterAll(async () => cleanup?.());

    it("counts a direct request against the key's one bucket, and answers 429 with retry-after past it", async () => {
      // The read takes one of the burst of 3 (on Fastify's path) and caches the key.
      await send(server.url, get(key, "/v1/app"));
      const before = await directCount(server);
      const answers: Answer[] = [];
      // Two more fit; a limit window that turns over meanwhile (PostgreSQL's are 3 s) lets a few more in.
      while (answers.length < 12 && answers.at(-1)?.status !== 429) {
        answers.push(await send(server.url, json(key, "POST", "/v1/credits/grant", { externalId: "u1", amount: 1 })));
      }
      const limited = answers.at(-1)!;
      expect(limited.status, limited.text).toBe(429);
      expect(answers.slice(0, -1).every((a) => a.status === 201)).toBe(true);
      expect(answers.length).toBeGreaterThanOrEqual(3);
      expect(Number(limited.headers["retry-after"])).toBeGreaterThanOrEqual(1);
      expect(JSON.parse(limited.text).error.code).toBe("RATE_LIMITED");
      expect((await directCount(server)) - before).toBe(answers.length);
    });
  });
}

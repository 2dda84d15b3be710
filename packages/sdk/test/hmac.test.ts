/** HMAC signing equals an independent node:crypto computation, fresh per attempt. */
import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Tally, signRequest } from "../src/index.ts";
import { errorBody, recordingSleep, scriptedFetch } from "./helpers/mock-fetch.ts";

function parse(header: string): Record<string, string> {
  expect(header.startsWith("Tally-HMAC ")).toBe(true);
  const out: Record<string, string> = {};
  for (const part of header.slice("Tally-HMAC ".length).split(", ")) {
    const eq = part.indexOf("=");
    out[part.slice(0, eq)] = part.slice(eq + 1);
  }
  return out;
}

function expected(secret: string, ts: string, nonce: string, method: string, pathWithQuery: string, body: string): string {
  const bodyHash = createHash("sha256").update(body, "utf8").digest("hex");
  return createHmac("sha256", secret).update(`${ts}\n${nonce}\n${method}\n${pathWithQuery}\n${bodyHash}`, "utf8").digest("hex");
}

describe("HMAC keys", () => {
  it("signs POST bodies, query strings and GETs as the contract says", async () => {
    const secret = "hs_séc®et-🔑";
    const { fetch, calls } = scriptedFetch([{ status: 201, body: {} }]);
    const tally = new Tally({ apiKey: "hk_key_123", hmacSecret: secret, baseUrl: "http://tally.test/base/", fetch });
    const before = Math.floor(Date.now() / 1000);
    await tally.credits.grant({ externalId: "user_ü", amount: 10, description: "naïve ✓" });
    await tally.transactions.list({ externalId: "user 1", limit: 3 });
    await tally.app.get();
    for (const call of calls) {
      const h = parse(call.headers["authorization"]!);
      expect(h["keyId"]).toBe("hk_key_123");
      expect(Number(h["ts"])).toBeGreaterThanOrEqual(before);
      expect(Number(h["ts"])).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
      expect(h["nonce"]).toMatch(/^[0-9a-f]{32}$/);
      const url = new URL(call.url);
      expect(h["sig"]).toBe(expected(secret, h["ts"]!, h["nonce"]!, call.method, url.pathname + url.search, call.body ?? ""));
    }
    expect(new URL(calls[1]!.url).pathname + new URL(calls[1]!.url).search).toBe("/base/v1/transactions?externalId=user+1&limit=3");
    expect(calls[2]!.body).toBeUndefined();
    expect(calls.some((c) => c.headers["authorization"]!.includes(secret))).toBe(false);
  });

  it("signs with a secret alone when it names its key (hk_<ulid>_…), and with key_…:hk_…", async () => {
    const ulid = "01KBR7Q3ZP6W8B8Y5Q2J9T4N6M";
    const secret = `hk_${ulid}_${"a".repeat(43)}`;
    for (const apiKey of [secret, `key_${ulid}:${secret}`]) {
      const { fetch, calls } = scriptedFetch([{ status: 200, body: {} }]);
      await new Tally({ apiKey, baseUrl: "http://tally.test", fetch }).app.get();
      const h = parse(calls[0]!.headers["authorization"]!);
      expect(h["keyId"]).toBe(`key_${ulid}`);
      expect(h["sig"]).toBe(expected(secret, h["ts"]!, h["nonce"]!, "GET", "/v1/app", ""));
    }
  });

  it("uses a fresh nonce (and timestamp) on each retry", async () => {
    const { fetch, calls } = scriptedFetch([{ status: 503, body: errorBody(503, "UNAVAILABLE") }, { status: 201, body: {} }]);
    const { sleep } = recordingSleep();
    const tally = new Tally({ apiKey: "key_1", hmacSecret: "s", baseUrl: "http://tally.test", fetch, sleep });
    await tally.credits.deduct({ accountId: "acct_1", amount: 1, idempotencyKey: "k" });
    const [a, b] = calls.map((c) => parse(c.headers["authorization"]!));
    expect(a!["nonce"]).not.toBe(b!["nonce"]);
    expect(calls[0]!.headers["idempotency-key"]).toBe(calls[1]!.headers["idempotency-key"]);
  });

  it("signRequest is deterministic given ts and nonce", async () => {
    const header = await signRequest({ keyId: "key_1", secret: "s3cret" }, { method: "GET", pathWithQuery: "/v1/app", body: "" }, { nowMs: 1_763_719_200_000, nonce: "abcd" });
    expect(header).toBe(`Tally-HMAC keyId=key_1, ts=1763719200, nonce=abcd, sig=${expected("s3cret", "1763719200", "abcd", "GET", "/v1/app", "")}`);
  });
});

describe("runtimes without Web Crypto (Node 18 without the flag)", () => {
  it("bearer keys still work (idempotency keys fall back) and HMAC signing fails clearly", async () => {
    const original = Object.getOwnPropertyDescriptor(globalThis, "crypto");
    Object.defineProperty(globalThis, "crypto", { value: undefined, configurable: true, writable: true });
    try {
      const { fetch, calls } = scriptedFetch([{ status: 201, body: {} }]);
      await new Tally({ apiKey: "sk_x", baseUrl: "http://tally.test", fetch }).accounts.create({});
      expect(calls[0]!.headers["idempotency-key"]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      const signed = new Tally({ apiKey: "key_1", hmacSecret: "s", baseUrl: "http://tally.test", fetch });
      await expect(signed.app.get()).rejects.toThrow(/experimental-global-webcrypto/);
    } finally {
      if (original) Object.defineProperty(globalThis, "crypto", original);
    }
  });
});

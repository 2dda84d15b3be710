/** Client behaviour with an injected fetch: retries, idempotency keys, timeouts, errors. */
import { describe, expect, it } from "vitest";
import {
  AuthenticationError,
  ConflictError,
  ConnectionError,
  InsufficientCreditsError,
  InternalServerError,
  NotFoundError,
  PermissionError,
  RateLimitError,
  Tally,
  TallyError,
  TimeoutError,
  ValidationError,
} from "../src/index.ts";
import { retryDelayMs } from "../src/core/http.ts";
import { errorBody, recordingSleep, scriptedFetch, type Step } from "./helpers/mock-fetch.ts";

const account = { id: "acct_1", externalId: "user_1", name: null, email: null, metadata: {}, createdAt: "2026-01-01T00:00:00.000Z" };
const deductOk = { transaction: { id: "txn_1" }, balance: { accountId: "acct_1", unit: "credits", balance: 5, reserved: 0, available: 5 }, alreadyProcessed: false };

function client(steps: Step[], extra: Partial<ConstructorParameters<typeof Tally>[0]> = {}) {
  const { fetch, calls } = scriptedFetch(steps);
  const { sleep, delays } = recordingSleep();
  const tally = new Tally({ apiKey: "sk_test_secret", baseUrl: "http://tally.test", fetch, sleep, ...extra });
  return { tally, calls, delays };
}

describe("retries", () => {
  it("retries 429 with the same idempotency key and honours retry-after seconds", async () => {
    const { tally, calls, delays } = client([
      { status: 429, body: errorBody(429, "RATE_LIMITED"), headers: { "retry-after": "2" } },
      { status: 201, body: deductOk },
    ]);
    const out = await tally.credits.deduct({ accountId: "acct_1", amount: 1 });
    expect(out.alreadyProcessed).toBe(false);
    expect(calls).toHaveLength(2);
    const key = calls[0]!.headers["idempotency-key"];
    expect(key).toMatch(/^[0-9a-f-]{36}$/);
    expect(calls[1]!.headers["idempotency-key"]).toBe(key);
    expect(calls[1]!.body).toBe(calls[0]!.body);
    expect(delays).toEqual([2000]);
  });

  it("honours retry-after as an HTTP date and caps it at 60 s", async () => {
    const inTenSeconds = new Date(Date.now() + 10_000).toUTCString();
    const { tally, delays } = client([
      { status: 429, body: errorBody(429, "RATE_LIMITED"), headers: { "retry-after": inTenSeconds } },
      { status: 429, body: errorBody(429, "RATE_LIMITED"), headers: { "retry-after": "600" } },
      { status: 200, body: account },
    ]);
    await tally.accounts.get("acct_1");
    expect(delays[0]).toBeGreaterThan(8_000);
    expect(delays[0]).toBeLessThanOrEqual(10_000);
    expect(delays[1]).toBe(60_000);
  });

  it("retries 503 and 500 with the same key, backing off 0.5 s doubling with jitter", async () => {
    const { tally, calls, delays } = client([
      { status: 503, body: errorBody(503, "UNAVAILABLE") },
      { status: 500, body: errorBody(500, "INTERNAL") },
      { status: 503, body: errorBody(503, "UNAVAILABLE") },
      { status: 201, body: account },
    ]);
    await tally.accounts.create({ externalId: "user_1" });
    expect(calls).toHaveLength(4);
    expect(new Set(calls.map((c) => c.headers["idempotency-key"])).size).toBe(1);
    expect(delays).toHaveLength(3);
    const bases = [500, 1000, 2000];
    delays.forEach((d, i) => {
      expect(d).toBeLessThanOrEqual(bases[i]!);
      expect(d).toBeGreaterThanOrEqual(bases[i]! * 0.75);
    });
  });

  it("gives up after maxRetries and throws the last error", async () => {
    const { tally, calls } = client([{ status: 503, body: errorBody(503, "UNAVAILABLE") }], { maxRetries: 2 });
    const err = await tally.accounts.get("acct_1").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InternalServerError);
    expect((err as TallyError).isRetryable).toBe(true);
    expect(calls).toHaveLength(3);
  });

  it("backoff caps at 8 s", () => {
    expect(retryDelayMs(0, undefined, () => 0)).toBe(500);
    expect(retryDelayMs(3, undefined, () => 0)).toBe(4000);
    expect(retryDelayMs(4, undefined, () => 0)).toBe(8000);
    expect(retryDelayMs(9, undefined, () => 0)).toBe(8000);
    expect(retryDelayMs(9, undefined, () => 0.999)).toBeGreaterThanOrEqual(6000);
  });

  it("retries a dropped connection with the same key", async () => {
    const { tally, calls } = client([{ drop: true }, { drop: true }, { status: 201, body: deductOk }]);
    await tally.credits.deduct({ externalId: "user_1", amount: 2, idempotencyKey: "turn-1" });
    expect(calls).toHaveLength(3);
    expect(new Set(calls.map((c) => c.headers["idempotency-key"])).size).toBe(1);
    expect(JSON.parse(calls[0]!.body!)).toEqual({ externalId: "user_1", amount: 2, idempotencyKey: "turn-1" });
  });

  it("throws ConnectionError when the connection keeps dropping", async () => {
    const { tally, calls } = client([{ drop: true }], { maxRetries: 1 });
    const err = await tally.accounts.get("acct_1").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect(err).not.toBeInstanceOf(TimeoutError);
    expect((err as TallyError).code).toBe("CONNECTION_ERROR");
    expect((err as TallyError).method).toBe("GET");
    expect((err as TallyError).path).toBe("/v1/accounts/acct_1");
    expect(calls).toHaveLength(2);
  });

  it("aborts a hanging attempt after timeoutMs → TimeoutError, retried with the same key", async () => {
    const { tally, calls } = client([{ hang: true }, { hang: true }], { timeoutMs: 30, maxRetries: 1 });
    const started = Date.now();
    const err = await tally.credits.grant({ externalId: "user_1", amount: 5 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as TallyError).code).toBe("TIMEOUT");
    expect(calls).toHaveLength(2);
    expect(calls[1]!.headers["idempotency-key"]).toBe(calls[0]!.headers["idempotency-key"]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("takes `timeout` as an alias of timeoutMs (Crovver's option name); timeoutMs wins when both are given", async () => {
    const alias = client([{ hang: true }], { timeout: 30, maxRetries: 0 });
    const started = Date.now();
    expect(await alias.tally.accounts.get("acct_1").catch((e: unknown) => e)).toBeInstanceOf(TimeoutError);
    expect(Date.now() - started).toBeLessThan(5_000);
    const both = client([{ hang: true }], { timeout: 60_000, timeoutMs: 30, maxRetries: 0 });
    expect(await both.tally.accounts.get("acct_1").catch((e: unknown) => e)).toBeInstanceOf(TimeoutError);
  });

  it("recovers when only the first attempt times out", async () => {
    const { tally, calls } = client([{ hang: true }, { status: 200, body: account }], { timeoutMs: 30 });
    await expect(tally.accounts.get("acct_1")).resolves.toEqual(account);
    expect(calls).toHaveLength(2);
  });

  it("a per-call timeoutMs and maxRetries override the client's", async () => {
    const { tally, calls } = client([{ hang: true }], { timeoutMs: 60_000 });
    await expect(tally.accounts.get("acct_1", { timeoutMs: 20, maxRetries: 0 })).rejects.toBeInstanceOf(TimeoutError);
    expect(calls).toHaveLength(1);
  });

  it.each([
    [400, "VALIDATION_ERROR", ValidationError],
    [402, "INSUFFICIENT_CREDITS", InsufficientCreditsError],
    [404, "ACCOUNT_NOT_FOUND", NotFoundError],
    [401, "UNAUTHENTICATED", AuthenticationError],
    [403, "FORBIDDEN", PermissionError],
    [409, "IDEMPOTENCY_KEY_REUSED", ConflictError],
  ])("does not retry %i", async (status, code, cls) => {
    const { tally, calls, delays } = client([{ status, body: errorBody(status, code) }, { status: 201, body: deductOk }]);
    const err = await tally.credits.deduct({ accountId: "acct_1", amount: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(cls);
    expect((err as TallyError).isRetryable).toBe(false);
    expect(calls).toHaveLength(1);
    expect(delays).toHaveLength(0);
  });

  it("retries 409 IDEMPOTENCY_KEY_IN_USE and 408", async () => {
    const { tally, calls } = client([
      { status: 409, body: errorBody(409, "IDEMPOTENCY_KEY_IN_USE") },
      { status: 408, body: errorBody(408, "REQUEST_TIMEOUT") },
      { status: 201, body: deductOk },
    ]);
    await tally.credits.deduct({ accountId: "acct_1", amount: 1, idempotencyKey: "k" });
    expect(calls).toHaveLength(3);
    expect(new Set(calls.map((c) => c.headers["idempotency-key"])).size).toBe(1);
  });

  it("never retries checkout sessions or add-on purchases", async () => {
    const a = client([{ status: 503, body: errorBody(503, "UNAVAILABLE") }]);
    await expect(
      a.tally.checkout.createSession({ accountId: "acct_1", planId: "plan_1", successUrl: "https://x.test/ok", cancelUrl: "https://x.test/no" }),
    ).rejects.toBeInstanceOf(InternalServerError);
    expect(a.calls).toHaveLength(1);
    expect(a.calls[0]!.headers["idempotency-key"]).toBeDefined();

    const b = client([{ drop: true }]);
    await expect(b.tally.addons.purchase("acct_1", { addonId: "addon_1" })).rejects.toBeInstanceOf(ConnectionError);
    expect(b.calls).toHaveLength(1);
    const body = JSON.parse(b.calls[0]!.body!) as { idempotencyKey: string; addonId: string };
    expect(body.addonId).toBe("addon_1");
    expect(body.idempotencyKey).toBe(b.calls[0]!.headers["idempotency-key"]);

    const c = client([{ status: 429, body: errorBody(429, "RATE_LIMITED"), headers: { "retry-after": "1" } }]);
    await expect(c.tally.addons.purchase("acct_1", { addonId: "addon_1", idempotencyKey: "buy-1" })).rejects.toBeInstanceOf(RateLimitError);
    expect(c.calls).toHaveLength(1);
    expect(c.calls[0]!.headers["idempotency-key"]).toBe("buy-1");
  });

  it("uses the caller's idempotency key and sends none on GET", async () => {
    const { tally, calls } = client([{ status: 201, body: account }, { status: 200, body: account }]);
    await tally.accounts.create({ externalId: "user_1" }, { idempotencyKey: "customer-user_1" });
    await tally.accounts.get("acct_1");
    expect(calls[0]!.headers["idempotency-key"]).toBe("customer-user_1");
    expect(calls[1]!.headers["idempotency-key"]).toBeUndefined();
    expect(calls[1]!.headers["content-type"]).toBeUndefined();
  });

  it("a new call gets a new key", async () => {
    const { tally, calls } = client([{ status: 201, body: account }]);
    await tally.accounts.create({});
    await tally.accounts.create({});
    expect(calls[0]!.headers["idempotency-key"]).not.toBe(calls[1]!.headers["idempotency-key"]);
  });

  it("stops retrying when the caller aborts", async () => {
    const controller = new AbortController();
    const { fetch, calls } = scriptedFetch([{ status: 503, body: errorBody(503, "UNAVAILABLE") }]);
    const tally = new Tally({
      apiKey: "sk_x",
      baseUrl: "http://tally.test",
      fetch,
      sleep: (_ms, signal) =>
        new Promise((_, reject) => {
          controller.abort();
          reject(signal?.reason);
        }),
    });
    const err = await tally.accounts.get("acct_1", { signal: controller.signal }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConnectionError);
    expect((err as TallyError).code).toBe("REQUEST_ABORTED");
    expect(calls).toHaveLength(1);
  });
});

describe("errors", () => {
  it.each([
    [400, ValidationError],
    [413, ValidationError],
    [415, ValidationError],
    [422, ValidationError],
    [401, AuthenticationError],
    [402, InsufficientCreditsError],
    [403, PermissionError],
    [404, NotFoundError],
    [409, ConflictError],
    [429, RateLimitError],
    [500, InternalServerError],
    [503, InternalServerError],
  ])("status %i → %o", async (status, cls) => {
    const { tally } = client([{ status, body: errorBody(status, "SOME_CODE", "went wrong", { a: 1 }) }], { maxRetries: 0 });
    const err = (await tally.transactions.get("txn_1").catch((e: unknown) => e)) as TallyError;
    expect(err).toBeInstanceOf(cls);
    expect(err).toBeInstanceOf(TallyError);
    expect(err).toBeInstanceOf(Error);
    expect(err.name).toBe(cls.name);
    expect(err.status).toBe(status);
    expect(err.code).toBe("SOME_CODE");
    expect(err.message).toBe("went wrong");
    expect(err.requestId).toBe(`req_err${status}`);
    expect(err.method).toBe("GET");
    expect(err.path).toBe("/v1/transactions/txn_1");
    expect(err.details).toEqual({ a: 1 });
  });

  it("InsufficientCreditsError exposes available/required", async () => {
    const { tally } = client([{ status: 402, body: errorBody(402, "INSUFFICIENT_CREDITS", "Insufficient credits", { available: 3, required: 5, unit: "credits" }) }]);
    const err = (await tally.credits.deduct({ externalId: "u", amount: 5 }).catch((e: unknown) => e)) as InsufficientCreditsError;
    expect(err).toBeInstanceOf(InsufficientCreditsError);
    expect(err.available).toBe(3);
    expect(err.required).toBe(5);
  });

  it("maps a non-JSON error (a proxy's HTML) and takes the request id from the header", async () => {
    const { tally } = client(
      [() => new Response("<html>Bad gateway</html>", { status: 502, statusText: "Bad Gateway", headers: { "x-request-id": "req_hdr" } })],
      { maxRetries: 0 },
    );
    const err = (await tally.app.get().catch((e: unknown) => e)) as TallyError;
    expect(err).toBeInstanceOf(InternalServerError);
    expect(err.code).toBe("HTTP_502");
    expect(err.status).toBe(502);
    expect(err.statusCode).toBe(502);
    expect(err.requestId).toBe("req_hdr");
    expect(err.message).toContain("Bad gateway");
  });

  it("TallyError.generate picks the class in one place", () => {
    expect(TallyError.generate({ status: 402, code: "SPEND_LIMIT_EXCEEDED", message: "x" })).toBeInstanceOf(InsufficientCreditsError);
    expect(TallyError.generate({ status: 418, code: "TEAPOT", message: "x" }).constructor).toBe(TallyError);
    expect(TallyError.generate({ status: 409, code: "IDEMPOTENCY_KEY_IN_USE", message: "x" }).isRetryable).toBe(true);
  });
});

describe("requests", () => {
  it("sends bearer auth, JSON bodies, query strings and strips path fields", async () => {
    const { tally, calls } = client([{ status: 200, body: account }, { status: 200, body: { items: [], nextCursor: null, hasMore: false } }, { status: 200, body: {} }]);
    await tally.accounts.update("acct_1", { name: "Alice" });
    await tally.transactions.list({ externalId: "user 1", limit: 5, type: "deduct" });
    await tally.reservations.confirm("rsv_1");
    expect(calls[0]!.method).toBe("PATCH");
    expect(calls[0]!.url).toBe("http://tally.test/v1/accounts/acct_1");
    expect(calls[0]!.headers["authorization"]).toBe("Bearer sk_test_secret");
    expect(calls[0]!.headers["content-type"]).toBe("application/json");
    expect(JSON.parse(calls[0]!.body!)).toEqual({ name: "Alice" });
    expect(calls[1]!.url).toBe("http://tally.test/v1/transactions?externalId=user+1&limit=5&type=deduct");
    expect(calls[1]!.body).toBeUndefined();
    expect(calls[2]!.body).toBe("{}");
  });

  it("resolves an externalId for account-path methods", async () => {
    const { tally, calls } = client([
      { status: 200, body: account },
      { status: 200, body: { accountId: "acct_1", unit: "gpu", balance: 1, reserved: 0, available: 1 } },
    ]);
    const b = await tally.accounts.balance({ externalId: "user/1" }, { unit: "gpu" });
    expect(b.unit).toBe("gpu");
    expect(calls[0]!.url).toBe("http://tally.test/v1/accounts/by-external-id/user%2F1");
    expect(calls[1]!.url).toBe("http://tally.test/v1/accounts/acct_1/balance?unit=gpu");
  });

  it("sends the tally-app header for the admin token", async () => {
    const { tally, calls } = client([{ status: 200, body: {} }], { apiKey: "admin-token", appId: "app_1" });
    await tally.app.get();
    expect(calls[0]!.headers["tally-app"]).toBe("app_1");
  });

  it("fills the deduct's ledger key from the Idempotency-Key when none is given", async () => {
    const { tally, calls } = client([{ status: 201, body: deductOk }]);
    await tally.credits.deduct({ accountId: "acct_1", amount: 1 });
    const body = JSON.parse(calls[0]!.body!) as { idempotencyKey: string };
    expect(body.idempotencyKey).toBe(calls[0]!.headers["idempotency-key"]);
  });

  it("refuses an hk_ secret that does not name its key (without hmacSecret) and a missing key", () => {
    expect(() => new Tally({ apiKey: "hk_123" })).toThrow(/hmacSecret/);
    const env = process.env["TALLY_API_KEY"];
    delete process.env["TALLY_API_KEY"];
    try {
      expect(() => new Tally({})).toThrow(/apiKey/);
    } finally {
      if (env !== undefined) process.env["TALLY_API_KEY"] = env;
    }
  });
});

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES, freshDatabase, postgresAvailable } from "../support/databases.ts";
import { call, startHarness, type Api, type Harness } from "../support/http.ts";
import { startTestServer, type TestServer } from "../../src/testing.ts";
import { verifyLedger } from "../../src/domain/verify.ts";
import { expectStatus, uid } from "./expect.ts";

/**
 * The ledger under contention: every race below must end exactly as if the requests had run one
 * by one, checked with `verifyLedger` (every balance recomputed from the ledger and the lots).
 */

/** Counts responses by status, e.g. `{ 201: 100, 402: 200 }`. */
function byStatus(responses: readonly Api[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const r of responses) out[r.status] = (out[r.status] ?? 0) + 1;
  return out;
}

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`concurrency over HTTP on ${kind}`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness(kind);
    });
    afterAll(async () => h?.close());

    async function funded(amount: number): Promise<string> {
      const g = await h.api("POST", "/v1/credits/grant", { externalId: uid("race"), amount });
      expectStatus(g, 201);
      return g.body.transaction.accountId;
    }

    it("300 parallel deducts of 1 on a balance of 100: exactly 100 succeed, 200 get 402, the balance ends at 0 and the ledger verifies", async () => {
      const accountId = await funded(100);
      const responses = await Promise.all(
        Array.from({ length: 300 }, (_, i) => h.api("POST", "/v1/credits/deduct", { accountId, amount: 1, idempotencyKey: `race-${accountId}-${i}` })),
      );
      expect(byStatus(responses)).toEqual({ 201: 100, 402: 200 });
      for (const r of responses.filter((x) => x.status === 402)) expect(r.body.error).toMatchObject({ code: "INSUFFICIENT_CREDITS", details: { available: 0, required: 1 } });
      // Every success saw a distinct balance after it: 99 … 0.
      const after = responses.filter((r) => r.status === 201).map((r) => r.body.transaction.balanceAfter as number);
      expect(new Set(after).size).toBe(100);
      expect(Math.min(...after)).toBe(0);
      const balance = await h.api("GET", `/v1/accounts/${accountId}/balance`);
      expect(balance.body).toMatchObject({ balance: 0, reserved: 0, available: 0 });
      const report = await verifyLedger(h.server.server.db);
      expect(report.problems).toEqual([]);
      expect(report.ok).toBe(true);
    });

    it("100 parallel reservations of 1 on a balance of 40: exactly 40 are held and the ledger verifies", async () => {
      const accountId = await funded(40);
      const responses = await Promise.all(Array.from({ length: 100 }, () => h.api("POST", "/v1/reservations", { accountId, amount: 1 })));
      expect(byStatus(responses)).toEqual({ 201: 40, 402: 60 });
      const balance = await h.api("GET", `/v1/accounts/${accountId}/balance`);
      expect(balance.body).toMatchObject({ balance: 40, reserved: 40, available: 0 });
      expect((await verifyLedger(h.server.server.db)).problems).toEqual([]);
    });

    it("50 parallel identical deducts with one body idempotencyKey move credits once and all answer that one transaction", async () => {
      const accountId = await funded(100);
      const body = { accountId, amount: 7, idempotencyKey: uid("same") };
      const responses = await Promise.all(Array.from({ length: 50 }, () => h.api("POST", "/v1/credits/deduct", body)));
      expect(byStatus(responses)).toEqual({ 201: 50 });
      const ids = new Set(responses.map((r) => r.body.transaction.id));
      expect(ids.size).toBe(1);
      expect(responses.filter((r) => r.body.alreadyProcessed === false)).toHaveLength(1);
      const balance = await h.api("GET", `/v1/accounts/${accountId}/balance`);
      expect(balance.body.balance).toBe(93);
      const txns = await h.api("GET", `/v1/transactions?accountId=${accountId}&type=deduct`);
      expect(txns.body.items).toHaveLength(1);
      expect((await verifyLedger(h.server.server.db)).problems).toEqual([]);
    });

    it("50 parallel requests with one Idempotency-Key header run once; the rest are byte-identical replays or 409 IDEMPOTENCY_KEY_IN_USE", async () => {
      const accountId = await funded(100);
      const headers = { "idempotency-key": uid("hdr") };
      const responses = await Promise.all(Array.from({ length: 50 }, () => h.api("POST", "/v1/credits/deduct", { accountId, amount: 3 }, headers)));
      const executed = responses.filter((r) => r.status === 201 && r.headers.get("idempotent-replayed") === null);
      const replayed = responses.filter((r) => r.status === 201 && r.headers.get("idempotent-replayed") === "true");
      const inUse = responses.filter((r) => r.status === 409);
      expect(executed).toHaveLength(1);
      expect(replayed.length + inUse.length).toBe(49);
      for (const r of replayed) expect(r.text).toBe(executed[0]!.text);
      for (const r of inUse) expect(r.body.error.code).toBe("IDEMPOTENCY_KEY_IN_USE");
      const balance = await h.api("GET", `/v1/accounts/${accountId}/balance`);
      expect(balance.body.balance).toBe(97);
      // Once the first has finished, a retry is a replay.
      const retry = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 3 }, headers);
      expect(retry.headers.get("idempotent-replayed")).toBe("true");
      expect(retry.text).toBe(executed[0]!.text);
    });

    it("20 parallel upserts of one external id create exactly one account (one 201, the rest 200)", async () => {
      const externalId = uid("upsert");
      const responses = await Promise.all(Array.from({ length: 20 }, (_, i) => h.api("PUT", `/v1/accounts/external/${externalId}`, { metadata: { [`k${i}`]: "v" } })));
      expect(byStatus(responses)).toEqual({ 200: 19, 201: 1 });
      expect(new Set(responses.map((r) => r.body.id)).size).toBe(1);
      const list = await h.api("GET", `/v1/accounts?externalId=${externalId}`);
      expect(list.body.items).toHaveLength(1);
    });

    it("20 parallel grants to one unknown external id create one account holding every grant", async () => {
      const externalId = uid("grant");
      const responses = await Promise.all(Array.from({ length: 20 }, () => h.api("POST", "/v1/credits/grant", { externalId, amount: 5 })));
      expect(byStatus(responses)).toEqual({ 201: 20 });
      expect(new Set(responses.map((r) => r.body.transaction.accountId)).size).toBe(1);
      const account = await h.api("GET", `/v1/accounts/by-external-id/${externalId}`);
      const balance = await h.api("GET", `/v1/accounts/${account.body.id}/balance`);
      expect(balance.body.balance).toBe(100);
    });

    it("parallel confirms and cancels of one hold resolve it exactly once", async () => {
      const accountId = await funded(50);
      const r = await h.api("POST", "/v1/reservations", { accountId, amount: 20 });
      const attempts = await Promise.all(
        Array.from({ length: 20 }, (_, i) => h.api("POST", `/v1/reservations/${r.body.id}/${i % 2 === 0 ? "confirm" : "cancel"}`, {})),
      );
      const ok = attempts.filter((a) => a.status === 200);
      expect(ok).toHaveLength(1);
      for (const a of attempts.filter((x) => x.status !== 200)) expect(a.body.error.code).toBe("RESERVATION_NOT_HELD");
      const balance = await h.api("GET", `/v1/accounts/${accountId}/balance`);
      expect(balance.body).toMatchObject({ balance: ok[0]!.body.reservation.status === "confirmed" ? 30 : 50, reserved: 0 });
      expect((await verifyLedger(h.server.server.db)).problems).toEqual([]);
    });
  });
}

describe.skipIf(!postgresAvailable)("two server processes on one PostgreSQL", () => {
  let a: TestServer;
  let b: TestServer;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    const db = await freshDatabase("postgres");
    cleanup = db.cleanup;
    // Two servers, two connection pools, one schema: to the database, two processes.
    a = await startTestServer({ database: db.url });
    b = await startTestServer({ database: db.url });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await cleanup?.();
  });

  it("300 parallel deducts of 1 on a balance of 100 split across both: exactly 100 succeed and the ledger verifies", async () => {
    const { secretKey } = await a.createApp("shared");
    const g = await call(b.url, secretKey, "POST", "/v1/credits/grant", { externalId: "shared", amount: 100 });
    expectStatus(g, 201);
    const accountId: string = g.body.transaction.accountId;
    const responses = await Promise.all(
      Array.from({ length: 300 }, (_, i) => call(i % 2 === 0 ? a.url : b.url, secretKey, "POST", "/v1/credits/deduct", { accountId, amount: 1 })),
    );
    expect(byStatus(responses)).toEqual({ 201: 100, 402: 200 });
    const fromA = await call(a.url, secretKey, "GET", `/v1/accounts/${accountId}/balance`);
    const fromB = await call(b.url, secretKey, "GET", `/v1/accounts/${accountId}/balance`);
    expect(fromA.body).toMatchObject({ balance: 0, available: 0 });
    expect(fromB.body).toEqual(fromA.body);
    const report = await verifyLedger(a.server.db);
    expect(report.problems).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it("50 parallel identical deducts with one idempotencyKey across both servers move credits once", async () => {
    const { secretKey } = await b.createApp("shared-2");
    const g = await call(a.url, secretKey, "POST", "/v1/credits/grant", { externalId: "s2", amount: 100 });
    const accountId: string = g.body.transaction.accountId;
    const body = { accountId, amount: 5, idempotencyKey: "one-turn" };
    const responses = await Promise.all(Array.from({ length: 50 }, (_, i) => call(i % 2 === 0 ? a.url : b.url, secretKey, "POST", "/v1/credits/deduct", body)));
    expect(byStatus(responses)).toEqual({ 201: 50 });
    expect(new Set(responses.map((r) => r.body.transaction.id)).size).toBe(1);
    const balance = await call(b.url, secretKey, "GET", `/v1/accounts/${accountId}/balance`);
    expect(balance.body.balance).toBe(95);
    expect((await verifyLedger(b.server.db)).problems).toEqual([]);
  });
});

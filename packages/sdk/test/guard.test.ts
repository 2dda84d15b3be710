/** tally.guard: reserve → run → confirm / cancel. */
import { describe, expect, it } from "vitest";
import { InsufficientCreditsError, Tally } from "../src/index.ts";
import { errorBody, json, scriptedFetch, type Call } from "./helpers/mock-fetch.ts";

const reservation = { id: "rsv_1", accountId: "acct_1", unit: "credits", amount: 100, capturedAmount: 0, status: "held" };

function fakeServer(overrides: Partial<Record<string, (call: Call) => Response>> = {}) {
  return scriptedFetch([
    (call) => {
      const path = new URL(call.url).pathname;
      const handler = overrides[path];
      if (handler) return handler(call);
      if (path === "/v1/reservations") return json(201, reservation);
      if (path.endsWith("/capture")) {
        const { amount } = JSON.parse(call.body!) as { amount: number };
        return json(200, { reservation: { ...reservation, capturedAmount: amount }, transaction: { id: "txn_c" }, balance: {} });
      }
      if (path.endsWith("/confirm")) return json(200, { reservation: { ...reservation, status: "confirmed" }, transaction: { id: "txn_1" }, balance: {} });
      if (path.endsWith("/cancel")) return json(200, { reservation: { ...reservation, status: "canceled" }, balance: {} });
      return json(404, errorBody(404, "NOT_FOUND"));
    },
  ]);
}

describe("guard", () => {
  it("confirms the reported amount and returns fn's result", async () => {
    const { fetch, calls } = fakeServer();
    const tally = new Tally({ apiKey: "sk_x", baseUrl: "http://tally.test", fetch });
    const out = await tally.guard({ externalId: "user_1", amount: 100, ttlSeconds: 300 }, async (hold) => {
      expect(hold.id).toBe("rsv_1");
      expect(hold.reservation.amount).toBe(100);
      await hold.capture(30);
      await hold.capture(12);
      expect(hold.captured).toBe(42);
      hold.setAmount(hold.captured + 8);
      return "reply";
    });
    expect(out).toBe("reply");
    expect(calls.map((c) => `${c.method} ${new URL(c.url).pathname}`)).toEqual([
      "POST /v1/reservations",
      "POST /v1/reservations/rsv_1/capture",
      "POST /v1/reservations/rsv_1/capture",
      "POST /v1/reservations/rsv_1/confirm",
    ]);
    expect(JSON.parse(calls[0]!.body!)).toEqual({ externalId: "user_1", amount: 100, ttlSeconds: 300 });
    expect(JSON.parse(calls[3]!.body!)).toEqual({ amount: 50 });
  });

  it("confirms the reserved amount when nothing is reported", async () => {
    const { fetch, calls } = fakeServer();
    const tally = new Tally({ apiKey: "sk_x", baseUrl: "http://tally.test", fetch });
    await tally.guard({ accountId: "acct_1", amount: 100 }, () => 1);
    expect(JSON.parse(calls[1]!.body!)).toEqual({ amount: 100 });
  });

  it("cancels when fn throws and rethrows the same error", async () => {
    const { fetch, calls } = fakeServer();
    const tally = new Tally({ apiKey: "sk_x", baseUrl: "http://tally.test", fetch });
    const boom = new Error("model failed");
    await expect(tally.guard({ accountId: "acct_1", amount: 100 }, async () => Promise.reject(boom), { cancelReason: "failed" })).rejects.toBe(boom);
    expect(calls.map((c) => new URL(c.url).pathname)).toEqual(["/v1/reservations", "/v1/reservations/rsv_1/cancel"]);
    expect(JSON.parse(calls[1]!.body!)).toEqual({ reason: "failed" });
  });

  it("rethrows fn's error even if the cancel fails", async () => {
    const { fetch } = fakeServer({ "/v1/reservations/rsv_1/cancel": () => json(409, errorBody(409, "RESERVATION_NOT_HELD")) });
    const tally = new Tally({ apiKey: "sk_x", baseUrl: "http://tally.test", fetch });
    const boom = new Error("x");
    await expect(tally.guard({ accountId: "acct_1", amount: 100 }, () => { throw boom; })).rejects.toBe(boom);
  });

  it("does not run fn when the reservation is refused", async () => {
    const { fetch } = fakeServer({ "/v1/reservations": () => json(402, errorBody(402, "INSUFFICIENT_CREDITS")) });
    const tally = new Tally({ apiKey: "sk_x", baseUrl: "http://tally.test", fetch });
    let ran = false;
    await expect(tally.guard({ accountId: "acct_1", amount: 100 }, () => { ran = true; })).rejects.toBeInstanceOf(InsufficientCreditsError);
    expect(ran).toBe(false);
  });

  it("reporting 0 cancels the hold", async () => {
    const { fetch, calls } = fakeServer();
    const tally = new Tally({ apiKey: "sk_x", baseUrl: "http://tally.test", fetch });
    await tally.guard({ accountId: "acct_1", amount: 100 }, (hold) => hold.setAmount(0));
    expect(new URL(calls[1]!.url).pathname).toBe("/v1/reservations/rsv_1/cancel");
  });
});

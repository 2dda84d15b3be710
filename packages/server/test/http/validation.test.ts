import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES } from "../support/databases.ts";
import { call, startHarness, type Harness } from "../support/http.ts";
import { expectError, expectStatus, uid } from "./expect.ts";

/** API.md "Conventions" and "Errors": every limit on input, and the envelope for each way a request can be malformed. */

const MAX = Number.MAX_SAFE_INTEGER;

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`input validation over HTTP on ${kind}`, () => {
    let h: Harness;
    let accountId: string;
    const raw = (method: string, path: string, body: string, headers: Record<string, string> = {}) =>
      call(h.url, h.key, method, path, body, { "content-type": "application/json", ...headers });

    beforeAll(async () => {
      h = await startHarness(kind);
      const g = await h.api("POST", "/v1/credits/grant", { externalId: uid("v"), amount: 1000 });
      accountId = g.body.transaction.accountId;
    });
    afterAll(async () => h?.close());

    describe("the request body", () => {
      it("rejects an unknown field with 400 VALIDATION_ERROR naming it in details.issues", async () => {
        const res = await h.api("POST", "/v1/credits/deduct", { accountId, amount: 1, amout: 2 });
        expectError(res, 400, "VALIDATION_ERROR");
        expect(res.body.error.details.issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: "/amout", message: expect.any(String) })]));
        const nested = await h.api("POST", "/v1/credits/grant", { accountId, amount: 1, metadata: { ok: { nested: "no" } } });
        expectError(nested, 400, "VALIDATION_ERROR");
        expect(nested.body.error.details.issues.length).toBeGreaterThan(0);
      });

      it("lists every issue when several fields are wrong", async () => {
        const res = await h.api("POST", "/v1/credits/grant", { accountId, amount: -1, unit: "Bad Unit", priority: "high" });
        expectError(res, 400, "VALIDATION_ERROR");
        const paths = res.body.error.details.issues.map((i: { path: string }) => i.path);
        expect(paths).toEqual(expect.arrayContaining(["/amount", "/unit", "/priority"]));
      });

      it("answers 400 INVALID_JSON for a body that is not JSON, and for prototype-poisoning keys", async () => {
        expectError(await raw("POST", "/v1/accounts", "{not json"), 400, "INVALID_JSON");
        expectError(await raw("POST", "/v1/accounts", '{"name": "a",}'), 400, "INVALID_JSON");
        expectError(await raw("POST", "/v1/accounts", '{"__proto__": {"admin": true}}'), 400, "INVALID_JSON");
      });

      it("answers 400 VALIDATION_ERROR for JSON that is not an object", async () => {
        expectError(await raw("POST", "/v1/accounts", "[]"), 400, "VALIDATION_ERROR");
        expectError(await raw("POST", "/v1/accounts", '"text"'), 400, "VALIDATION_ERROR");
      });

      it("answers 415 UNSUPPORTED_MEDIA_TYPE for a body that is not application/json", async () => {
        expectError(await raw("POST", "/v1/accounts", "{}", { "content-type": "text/plain" }), 415, "UNSUPPORTED_MEDIA_TYPE");
        expectError(await raw("POST", "/v1/accounts", "name=a", { "content-type": "application/x-www-form-urlencoded" }), 415, "UNSUPPORTED_MEDIA_TYPE");
        expectStatus(await raw("POST", "/v1/accounts", "{}", { "content-type": "application/json; charset=utf-8" }), 201);
      });

      it("answers 413 PAYLOAD_TOO_LARGE for a body over 1 MiB", async () => {
        const body = JSON.stringify({ description: "x".repeat(1024 * 1024) });
        expectError(await raw("POST", "/v1/accounts", body), 413, "PAYLOAD_TOO_LARGE");
      });

      it("treats an empty JSON body as {} so required fields are reported", async () => {
        const res = await raw("POST", "/v1/credits/grant", "");
        expectError(res, 400, "VALIDATION_ERROR");
        expect(res.body.error.details.issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: "/amount" })]));
      });
    });

    describe("amounts", () => {
      const bad: Array<[string, unknown]> = [
        ["zero", 0],
        ["negative", -5],
        ["a fraction", 1.5],
        ["above 2^53-1", MAX + 1],
        ["a string", "5"],
        ["null", null],
      ];
      for (const [label, amount] of bad) {
        it(`rejects an amount that is ${label} (400) on grant, deduct, reservation and manual transaction`, async () => {
          expectError(await h.api("POST", "/v1/credits/grant", { accountId, amount }), 400, "VALIDATION_ERROR");
          expectError(await h.api("POST", "/v1/credits/deduct", { accountId, amount }), 400, "VALIDATION_ERROR");
          expectError(await h.api("POST", "/v1/reservations", { accountId, amount }), 400, "VALIDATION_ERROR");
          expectError(await h.api("POST", "/v1/transactions", { accountId, type: "credit", amount }), 400, "VALIDATION_ERROR");
        });
      }

      it("accepts exactly 2^53-1, and rejects a grant that would push a balance past it (400)", async () => {
        const g = await h.api("POST", "/v1/credits/grant", { externalId: uid("max"), amount: MAX });
        expectStatus(g, 201);
        expect(g.body.balance.balance).toBe(MAX);
        expectError(await h.api("POST", "/v1/credits/grant", { accountId: g.body.transaction.accountId, amount: 1 }), 400, "VALIDATION_ERROR");
        const b = await h.api("GET", `/v1/accounts/${g.body.transaction.accountId}/balance`);
        expect(b.body.balance).toBe(MAX);
      });
    });

    describe("metadata and string limits", () => {
      const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, "v"]));

      it("accepts 50 metadata keys and rejects 51 (400)", async () => {
        expectStatus(await h.api("POST", "/v1/accounts", { metadata: keys(50) }), 201);
        expectError(await h.api("POST", "/v1/accounts", { metadata: keys(51) }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/credits/grant", { accountId, amount: 1, metadata: keys(51) }), 400, "VALIDATION_ERROR");
      });

      it("accepts a 40-character metadata key and rejects 41 (400)", async () => {
        expectStatus(await h.api("POST", "/v1/accounts", { metadata: { ["k".repeat(40)]: "v" } }), 201);
        expectError(await h.api("POST", "/v1/accounts", { metadata: { ["k".repeat(41)]: "v" } }), 400, "VALIDATION_ERROR");
      });

      it("accepts a 500-character metadata value and rejects 501 (400), and non-string values", async () => {
        expectStatus(await h.api("POST", "/v1/accounts", { metadata: { k: "v".repeat(500) } }), 201);
        expectError(await h.api("POST", "/v1/accounts", { metadata: { k: "v".repeat(501) } }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/accounts", { metadata: { k: 1 } }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/accounts", { metadata: { k: null } }), 400, "VALIDATION_ERROR");
      });

      it("rejects strings over 255 characters in externalId, name, email, reference, operation and idempotency keys (400)", async () => {
        const long = "s".repeat(256);
        expectError(await h.api("POST", "/v1/accounts", { externalId: long }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/accounts", { name: long }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/accounts", { email: `${"e".repeat(250)}@example.com` }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/credits/grant", { accountId, amount: 1, reference: long }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/credits/deduct", { accountId, amount: 1, operation: long }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/credits/deduct", { accountId, amount: 1, idempotencyKey: long }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/credits/deduct", { accountId, amount: 1, usageEventId: long }), 400, "VALIDATION_ERROR");
        expectError(await h.api("POST", "/v1/credits/grant", { externalId: long, amount: 1 }), 400, "VALIDATION_ERROR");
        expectStatus(await h.api("POST", "/v1/accounts", { externalId: `${uid()}${"s".repeat(255)}`.slice(0, 255) }), 201);
      });

      it("accepts a 1,000-character description and rejects 1,001 (400)", async () => {
        expectStatus(await h.api("POST", "/v1/credits/grant", { accountId, amount: 1, description: "d".repeat(1000) }), 201);
        expectError(await h.api("POST", "/v1/credits/grant", { accountId, amount: 1, description: "d".repeat(1001) }), 400, "VALIDATION_ERROR");
      });

      it("rejects a unit that breaks ^[a-z][a-z0-9_.-]{0,63}$ (400)", async () => {
        for (const unit of ["Credits", "1credits", "", "a".repeat(65), "cr dits"]) {
          expectError(await h.api("POST", "/v1/credits/grant", { accountId, amount: 1, unit }), 400, "VALIDATION_ERROR");
        }
        expectStatus(await h.api("POST", "/v1/credits/grant", { accountId, amount: 1, unit: "a".repeat(64) }), 201);
      });
    });

    describe("query parameters", () => {
      for (const path of ["/v1/accounts", "/v1/transactions", "/v1/reservations", "/v1/usage", "/v1/prices"]) {
        it(`rejects page limit 0 and 101 and a non-number on ${path} (400), and accepts 1 and 100`, async () => {
          expectError(await h.api("GET", `${path}?limit=0`), 400, "VALIDATION_ERROR");
          expectError(await h.api("GET", `${path}?limit=101`), 400, "VALIDATION_ERROR");
          expectError(await h.api("GET", `${path}?limit=ten`), 400, "VALIDATION_ERROR");
          expectStatus(await h.api("GET", `${path}?limit=1`), 200);
          expectStatus(await h.api("GET", `${path}?limit=100`), 200);
        });
      }

      it("rejects unknown query parameters (400)", async () => {
        const res = await h.api("GET", "/v1/transactions?acountId=x");
        expectError(res, 400, "VALIDATION_ERROR");
        expect(res.body.error.details.issues).toEqual(expect.arrayContaining([expect.objectContaining({ path: "/acountId" })]));
      });
    });

    describe("routes", () => {
      it("answers 404 NOT_FOUND in the envelope for unknown paths and methods", async () => {
        expectError(await h.api("GET", "/v1/nothing-here"), 404, "NOT_FOUND");
        expectError(await h.api("PATCH", "/v1/credits/grant", {}), 404, "NOT_FOUND");
        expectError(await call(h.url, undefined, "GET", "/nope"), 404, "NOT_FOUND");
      });
    });
  });
}

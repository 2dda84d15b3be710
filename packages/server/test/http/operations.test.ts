import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES } from "../support/databases.ts";
import { call, startHarness, type Harness } from "../support/http.ts";
import { expectError, expectStatus, uid } from "./expect.ts";

/** Every core route of API.md, as `METHOD /path` with OpenAPI-style parameters. */
const CORE_ROUTES = [
  "POST /v1/apps",
  "GET /v1/app",
  "PATCH /v1/app",
  "POST /v1/api-keys",
  "GET /v1/api-keys",
  "DELETE /v1/api-keys/{id}",
  "POST /v1/accounts",
  "PUT /v1/accounts/external/{externalId}",
  "GET /v1/accounts",
  "GET /v1/accounts/{accountId}",
  "GET /v1/accounts/by-external-id/{externalId}",
  "PATCH /v1/accounts/{accountId}",
  "GET /v1/accounts/{accountId}/balance",
  "GET /v1/accounts/{accountId}/balances",
  "GET /v1/accounts/{accountId}/grants",
  "POST /v1/credits/grant",
  "POST /v1/credits/deduct",
  "POST /v1/credits/refund",
  "POST /v1/transactions",
  "GET /v1/transactions",
  "GET /v1/transactions/{id}",
  "POST /v1/reservations",
  "POST /v1/reservations/{id}/confirm",
  "POST /v1/reservations/{id}/cancel",
  "POST /v1/reservations/{id}/capture",
  "POST /v1/reservations/{id}/extend",
  "GET /v1/reservations/{id}",
  "GET /v1/reservations",
  "POST /v1/usage",
  "GET /v1/usage",
  "GET /v1/usage/summary",
  "PUT /v1/prices/{key}",
  "GET /v1/prices",
  "PUT /v1/units/{unit}",
  "GET /healthz",
  "GET /readyz",
  "GET /metrics",
];

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`operations endpoints over HTTP on ${kind}`, () => {
    let h: Harness;
    const anon = (path: string) => call(h.url, undefined, "GET", path);
    beforeAll(async () => {
      h = await startHarness(kind);
    });
    afterAll(async () => h?.close());

    it("GET /healthz answers 200 without credentials", async () => {
      const res = await anon("/healthz");
      expectStatus(res, 200);
      expect(res.body).toEqual({ ok: true });
    });

    it("GET /readyz answers 200 while the database answers", async () => {
      const res = await anon("/readyz");
      expectStatus(res, 200);
      expect(res.body).toEqual({ ok: true });
    });

    it("GET /metrics serves Prometheus text with request counts per route, latency histograms and ledger operations", async () => {
      const g = await h.api("POST", "/v1/credits/grant", { externalId: uid("m"), amount: 5 });
      await h.api("POST", "/v1/credits/deduct", { accountId: g.body.transaction.accountId, amount: 1 });
      await h.api("POST", "/v1/credits/deduct", { accountId: g.body.transaction.accountId, amount: 100 });
      const res = await anon("/metrics");
      expectStatus(res, 200);
      expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
      expect(res.text).toContain("# TYPE tally_http_requests_total counter");
      expect(res.text).toMatch(/tally_http_requests_total\{method="POST",route="\/v1\/credits\/deduct",status="201"\} [1-9]/);
      expect(res.text).toMatch(/tally_http_requests_total\{method="POST",route="\/v1\/credits\/deduct",status="402"\} [1-9]/);
      expect(res.text).toContain("# TYPE tally_http_request_duration_seconds histogram");
      expect(res.text).toMatch(/tally_ledger_operations_total\{operation="deduct",outcome="ok"\} [1-9]/);
      // Ids never become labels: one series per route template, not per account.
      expect(res.text).not.toContain(g.body.transaction.accountId);
      // The database's connections, on either database.
      expect(res.text).toMatch(/tally_db_pool_connections\{state="total"\} [1-9]/);
      expect(res.text).toMatch(/tally_db_pool_connections\{state="idle"\} \d+/);
      expect(res.text).toMatch(/tally_db_pool_connections\{state="waiting"\} \d+/);
    });

    it("GET /openapi.json is an OpenAPI 3.1 document with the contract's components and every core route", async () => {
      const res = await anon("/openapi.json");
      expectStatus(res, 200);
      const doc = res.body;
      expect(doc.openapi).toMatch(/^3\.1\./);
      expect(doc.info).toMatchObject({ title: expect.any(String), version: expect.any(String) });
      for (const name of ["Account", "Balance", "Transaction", "Reservation", "UsageRecord", "Price", "App", "ApiKey"]) {
        expect(doc.components.schemas, name).toHaveProperty(name);
        expect(doc.components.schemas[name].type).toBe("object");
      }
      expect(Object.keys(doc.components.schemas.Transaction.properties)).toEqual(
        expect.arrayContaining(["id", "accountId", "unit", "type", "amount", "balanceAfter", "allocations", "createdAt"]),
      );
      const missing = CORE_ROUTES.filter((r) => {
        const [method, path] = r.split(" ") as [string, string];
        return doc.paths[path]?.[method.toLowerCase()] === undefined;
      });
      expect(missing).toEqual([]);
      // Request bodies carry the same schema that validates them, e.g. the unknown-field rule.
      const grant = doc.paths["/v1/credits/grant"].post;
      expect(grant.requestBody.content["application/json"].schema.additionalProperties).toBe(false);
      expect(JSON.stringify(grant.responses["201"])).toContain("#/components/schemas/Transaction");
    });

    it("GET /docs renders the reference as HTML", async () => {
      const res = await fetch(`${h.url}/docs`);
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(/^text\/html/);
      expect(res.headers.get("x-request-id")).toMatch(/^req_/);
      expect(await res.text()).toMatch(/<html/i);
    });

    it("GET /readyz answers 503 UNAVAILABLE once the database is gone (last: it closes the database)", async () => {
      await h.server.server.db.close();
      const res = await anon("/readyz");
      expectError(res, 503, "UNAVAILABLE");
      expect(await anon("/healthz")).toMatchObject({ status: 200 });
    });
  });
}

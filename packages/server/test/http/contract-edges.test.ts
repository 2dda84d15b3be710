import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES } from "../support/databases.ts";
import { call, startHarness, type Harness } from "../support/http.ts";
import { expectError, expectStatus, uid } from "./expect.ts";

/**
 * Corners of API.md found by reading the contract against the server (session 22): each case
 * names the rule it holds the server to.
 */

/** Sends raw bytes and returns the whole answer (the server closes after a refused request). */
function rawExchange(url: string, bytes: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.write(bytes));
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk: string) => (text += chunk));
    socket.on("end", () => resolve(text));
    socket.on("close", () => resolve(text));
    socket.on("error", reject);
  });
}

function parseRaw(answer: string): { status: number; headers: Record<string, string>; body: any } {
  const [head, ...rest] = answer.split("\r\n\r\n");
  const [statusLine, ...lines] = head!.split("\r\n");
  const headers: Record<string, string> = {};
  for (const line of lines) headers[line.slice(0, line.indexOf(":")).toLowerCase()] = line.slice(line.indexOf(":") + 1).trim();
  return { status: Number(statusLine!.split(" ")[1]), headers, body: JSON.parse(rest.join("\r\n\r\n")) };
}

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`contract corners on ${kind}`, () => {
    let h: Harness;

    beforeAll(async () => {
      h = await startHarness(kind, { jobs: false });
    }, 60_000);
    afterAll(async () => h?.close());

    it("takes usageEventId as the alias of idempotencyKey on every ledger operation, not only deduct", async () => {
      const externalId = uid("alias");
      const grant = await h.api("POST", "/v1/credits/grant", { externalId, amount: 50, usageEventId: `${externalId}-g` });
      expectStatus(grant, 201);
      const again = await h.api("POST", "/v1/credits/grant", { externalId, amount: 50, idempotencyKey: `${externalId}-g` });
      expect(again.body).toMatchObject({ alreadyProcessed: true, transaction: { id: grant.body.transaction.id } });
      const deduct = await h.api("POST", "/v1/credits/deduct", { externalId, amount: 10, usageEventId: `${externalId}-d` });
      const refund = await h.api("POST", "/v1/credits/refund", { transactionId: deduct.body.transaction.id, amount: 2, usageEventId: `${externalId}-r` });
      expectStatus(refund, 201);
      expect((await h.api("POST", "/v1/credits/refund", { transactionId: deduct.body.transaction.id, amount: 2, usageEventId: `${externalId}-r` })).body.transaction.id).toBe(refund.body.transaction.id);
      const manual = await h.api("POST", "/v1/transactions", { externalId, type: "credit", amount: 3, usageEventId: `${externalId}-m` });
      expectStatus(manual, 201);
      expect((await h.api("POST", "/v1/transactions", { externalId, type: "credit", amount: 3, usageEventId: `${externalId}-m` })).body.transaction.id).toBe(manual.body.transaction.id);
      const hold = await h.api("POST", "/v1/reservations", { externalId, amount: 5, usageEventId: `${externalId}-h` });
      expectStatus(hold, 201);
      expect((await h.api("POST", "/v1/reservations", { externalId, amount: 5, usageEventId: `${externalId}-h` })).body.id).toBe(hold.body.id);
      const balance = (await h.api("GET", `/v1/accounts/${grant.body.transaction.accountId}/balance`)).body;
      expect(balance).toMatchObject({ balance: 50 - 10 + 2 + 3, reserved: 5 });
      expectError(await h.api("POST", "/v1/credits/grant", { externalId, amount: 1, idempotencyKey: "a", usageEventId: "b" }), 400, "VALIDATION_ERROR");
    });

    it("lists only spent or expired lots with active=false, only live ones with active=true, all without it", async () => {
      const externalId = uid("lots");
      const spent = await h.api("POST", "/v1/credits/grant", { externalId, amount: 5, priority: -1 });
      const live = await h.api("POST", "/v1/credits/grant", { externalId, amount: 7 });
      expectStatus(await h.api("POST", "/v1/credits/deduct", { externalId, amount: 5, idempotencyKey: uid("k") }), 201);
      const accountId = spent.body.transaction.accountId;
      const ids = async (query: string) => (await h.api("GET", `/v1/accounts/${accountId}/grants${query}`)).body.items.map((g: { id: string }) => g.id);
      expect(await ids("?active=false")).toEqual([spent.body.grant.id]);
      expect(await ids("?active=true")).toEqual([live.body.grant.id]);
      expect((await ids("")).sort()).toEqual([spent.body.grant.id, live.body.grant.id].sort());
    });

    it("answers 404 ACCOUNT_NOT_FOUND when a list names an account that does not exist (reservations, subscriptions)", async () => {
      expectError(await h.api("GET", "/v1/reservations?accountId=acct_01KBR7Q3ZP6W8B8Y5Q2J9T4N6M"), 404, "ACCOUNT_NOT_FOUND");
      expectError(await h.api("GET", "/v1/reservations?externalId=nobody-here"), 404, "ACCOUNT_NOT_FOUND");
      expectError(await h.api("GET", "/v1/subscriptions?externalId=nobody-here"), 404, "ACCOUNT_NOT_FOUND");
      const externalId = uid("rsv");
      await h.api("POST", "/v1/credits/grant", { externalId, amount: 3 });
      const held = await h.api("POST", "/v1/reservations", { externalId, amount: 1 });
      expect((await h.api("GET", `/v1/reservations?externalId=${externalId}`)).body.items.map((r: { id: string }) => r.id)).toEqual([held.body.id]);
    });

    it("refuses (400) a query parameter on an API route that takes none, so a misspelt filter never silently does nothing", async () => {
      const account = await h.api("POST", "/v1/accounts", { externalId: uid("q") });
      expectError(await h.api("GET", `/v1/accounts/${account.body.id}?expand=balance`), 400, "VALIDATION_ERROR");
      expectError(await h.api("GET", `/v1/accounts/${account.body.id}/balances?unit=credits`), 400, "VALIDATION_ERROR");
      expectError(await h.api("GET", "/v1/app?x=1"), 400, "VALIDATION_ERROR");
      expectError(await h.api("POST", "/v1/accounts?dryRun=true", { externalId: uid("q") }), 400, "VALIDATION_ERROR");
      expectStatus(await h.api("GET", `/v1/accounts/${account.body.id}`), 200);
      expectStatus(await call(h.url, undefined, "GET", "/healthz?probe=1"), 200);
    });

    it("answers a request Node's parser refuses (oversized headers, a malformed request) in the envelope with an x-request-id", async () => {
      const big = parseRaw(await rawExchange(h.url, `GET /v1/app HTTP/1.1\r\nhost: x\r\nx-big: ${"a".repeat(20_000)}\r\n\r\n`));
      expect(big.status).toBe(431);
      expect(big.body.error).toMatchObject({ code: "HEADERS_TOO_LARGE", status: 431 });
      expect(big.headers["x-request-id"]).toBe(big.body.error.requestId);
      const garbled = parseRaw(await rawExchange(h.url, "POST /v1/accounts HTTP/1.1\r\nhost: x\r\ncontent-length: abc\r\n\r\n{}"));
      expect(garbled.status).toBe(400);
      expect(garbled.body.error).toMatchObject({ code: "VALIDATION_ERROR", status: 400, details: { issues: [{ path: "/" }] } });
      expect(garbled.headers["x-request-id"]).toMatch(/^req_/);
      expect(garbled.headers["content-type"]).toContain("application/json");
    });

    it("refuses U+0000 in a body string, a path or a query with 400 (PostgreSQL cannot store it), but takes the text \\u0000", async () => {
      expectError(await h.api("POST", "/v1/accounts", { name: "a\u0000b" }), 400, "VALIDATION_ERROR");
      expectError(await h.api("POST", "/v1/credits/grant", { externalId: "x\u0000", amount: 1 }), 400, "VALIDATION_ERROR");
      expectError(await h.api("GET", "/v1/accounts/acct_%00"), 400, "VALIDATION_ERROR");
      expectError(await h.api("GET", "/v1/accounts?externalId=a%00b"), 400, "VALIDATION_ERROR");
      const literal = await h.api("POST", "/v1/accounts", { name: "back\\u0000slash" });
      expectStatus(literal, 201);
      expect(literal.body.name).toBe("back\\u0000slash");
    });

    it("names the allowed values once when a value is outside a set of choices (groupBy, status)", async () => {
      const res = await h.api("GET", "/v1/usage/summary?groupBy=type");
      expectError(res, 400, "VALIDATION_ERROR");
      expect(res.body.error.details.issues).toEqual([expect.objectContaining({ path: "/groupBy", message: 'must be one of "model", "day", "usageType", "account"' })]);
      expect(res.body.error.message).toContain('must be one of "model"');
    });

    it("finds a manual checkout's order by the session id the checkout answered (GET /v1/orders/cs_…)", async () => {
      const externalId = uid("buyer");
      await h.api("POST", "/v1/accounts", { externalId });
      const addon = await h.api("POST", "/v1/addons", { name: "Pack", unit: "credits", creditQty: 100, priceAmount: 500, currency: "usd" });
      const session = await h.api("POST", "/v1/checkout/sessions", { externalId, addonId: addon.body.id, successUrl: "https://app.example/ok", cancelUrl: "https://app.example/no" });
      expectStatus(session, 201);
      expect(session.body.id).toMatch(/^cs_/);
      const order = await h.api("GET", `/v1/orders/${session.body.id}`);
      expectStatus(order, 200);
      expect(order.body.id).toBe(session.body.order.id);
      expectError(await h.api("GET", "/v1/orders/cs_01KBR7Q3ZP6W8B8Y5Q2J9T4N6M"), 404, "ORDER_NOT_FOUND");
      // Marking it paid may record where the money came from; the order is then found by that id too.
      const paid = await h.api("POST", `/v1/orders/${order.body.id}/mark-paid`, { providerRef: `wire-${externalId}`, paymentRef: "rcpt-1" });
      expectStatus(paid, 200);
      expect(paid.body).toMatchObject({ alreadyProcessed: false, order: { status: "paid", providerRef: `wire-${externalId}` } });
      expect((await h.api("GET", `/v1/orders/wire-${externalId}`)).body.id).toBe(order.body.id);
      expectError(await h.api("POST", `/v1/orders/${order.body.id}/mark-paid`, { nope: 1 }), 400, "VALIDATION_ERROR");
      // Orders list newest first, by account and status; a providerRef names one order only.
      const second = await h.api("POST", "/v1/checkout/sessions", { externalId, addonId: addon.body.id, successUrl: "https://app.example/ok", cancelUrl: "https://app.example/no" });
      const listed = (await h.api("GET", `/v1/orders?externalId=${externalId}`)).body;
      expect(listed.items.map((o: { id: string }) => o.id)).toEqual([second.body.order.id, order.body.id]);
      expect((await h.api("GET", `/v1/orders?externalId=${externalId}&status=pending`)).body.items.map((o: { id: string }) => o.id)).toEqual([second.body.order.id]);
      expect((await h.api("GET", `/v1/orders?externalId=${externalId}&limit=1&cursor=${second.body.order.id}`)).body.items[0].id).toBe(order.body.id);
      expectError(await h.api("GET", "/v1/orders?externalId=nobody-here"), 404, "ACCOUNT_NOT_FOUND");
      expectError(await h.api("POST", `/v1/orders/${second.body.order.id}/mark-paid`, { providerRef: `wire-${externalId}` }), 400, "VALIDATION_ERROR");
      expect((await h.api("GET", `/v1/orders/${second.body.order.id}`)).body.status).toBe("pending");
    });

    it("webhook endpoints: any non-empty secret, GET one, lists paged with limit and cursor", async () => {
      const created = [];
      for (const secret of ["whsec_test", "s", undefined]) {
        const res = await h.api("POST", "/v1/webhook-endpoints", { url: "http://127.0.0.1:9/hook", events: ["*"], ...(secret !== undefined ? { secret } : {}) });
        expectStatus(res, 201);
        if (secret !== undefined) expect(res.body.secret).toBe(secret);
        created.push(res.body);
      }
      const one = await h.api("GET", `/v1/webhook-endpoints/${created[0].id}`);
      expectStatus(one, 200);
      expect(one.body).toMatchObject({ id: created[0].id, url: "http://127.0.0.1:9/hook" });
      expect(one.text).not.toContain("whsec_test");
      expectError(await h.api("GET", "/v1/webhook-endpoints/we_01KBR7Q3ZP6W8B8Y5Q2J9T4N6M"), 404, "NOT_FOUND");
      const first = (await h.api("GET", "/v1/webhook-endpoints?limit=2")).body;
      expect(first).toMatchObject({ hasMore: true, items: [{ id: created[0].id }, { id: created[1].id }] });
      const second = (await h.api("GET", `/v1/webhook-endpoints?limit=2&cursor=${first.nextCursor}`)).body;
      expect(second).toMatchObject({ hasMore: false, nextCursor: null, items: [{ id: created[2].id }] });
      expectError(await h.api("POST", "/v1/webhook-endpoints", { url: "http://127.0.0.1:9/hook", events: ["*"], secret: "" }), 400, "VALIDATION_ERROR");
    });

    it("lists API keys newest first, paged with limit and cursor like every other list", async () => {
      const names = ["k1", "k2", "k3"];
      for (const name of names) expectStatus(await h.api("POST", "/v1/api-keys", { name }), 201);
      const first = (await h.api("GET", "/v1/api-keys?limit=2")).body;
      expect(first.items.map((k: { name: string }) => k.name)).toEqual(["k3", "k2"]);
      expect(first.hasMore).toBe(true);
      const rest = (await h.api("GET", `/v1/api-keys?cursor=${first.nextCursor}`)).body;
      expect(rest.items.map((k: { name: string }) => k.name)[0]).toBe("k1");
      expect(rest.hasMore).toBe(false);
    });

    it("subscriptions: a period_end start is created now (createdAt) though its period starts later; the status filter finds a match past many others", async () => {
      const plan = (await h.api("POST", "/v1/plans", { name: "Pro", priceAmount: 0, currency: "usd", interval: "month", credits: [{ unit: "credits", amount: 10 }], features: ["pro"] })).body;
      const externalId = uid("subs");
      const crowd = uid("crowd");
      for (const id of [externalId, crowd]) expectStatus(await h.api("POST", "/v1/accounts", { externalId: id }), 201);
      const first = await h.api("POST", "/v1/subscriptions", { externalId, planId: plan.id }); // startMode defaults to immediate
      expectStatus(first, 201);
      const before = Date.now();
      const later = await h.api("POST", "/v1/subscriptions", { externalId, planId: plan.id, startMode: "period_end" });
      expectStatus(later, 201);
      expect(Date.parse(later.body.currentPeriodStart)).toBe(Date.parse(first.body.currentPeriodEnd));
      expect(Math.abs(Date.parse(later.body.createdAt) - before)).toBeLessThan(60_000);
      // More canceled subscriptions than one page's worth of over-reading, then the live one last.
      for (let i = 0; i < 25; i++) {
        const s = await h.api("POST", "/v1/subscriptions", { externalId: crowd, planId: plan.id, startMode: "immediate" });
        expectStatus(await h.api("POST", `/v1/subscriptions/${s.body.id}/cancel`, { atPeriodEnd: false }), 200);
      }
      const live = await h.api("POST", "/v1/subscriptions", { externalId: crowd, planId: plan.id, startMode: "immediate" });
      const active = (await h.api("GET", `/v1/subscriptions?externalId=${crowd}&status=active&limit=1`)).body;
      expect(active).toMatchObject({ items: [{ id: live.body.id, status: "active" }], hasMore: false });
      const canceled = (await h.api("GET", `/v1/subscriptions?externalId=${crowd}&status=canceled&limit=10`)).body;
      expect(canceled.items).toHaveLength(10);
      expect(canceled.hasMore).toBe(true);
      const check = (await h.api("GET", `/v1/entitlements/check?externalId=${crowd}&feature=pro`)).body;
      expect(check).toEqual({ allowed: true, reason: "ok" });
    });
  });
}

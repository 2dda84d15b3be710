/**
 * Every resource method end to end against a real server (SQLite, in process). Commerce
 * methods whose routes the server does not serve yet are skipped with a loud warning.
 */
import { createHmac } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  AuthenticationError,
  ConflictError,
  InsufficientCreditsError,
  NotFoundError,
  PermissionError,
  Tally,
  TallyError,
  ValidationError,
  type Account,
  type Transaction,
} from "../src/index.ts";
import { TallyUserClient } from "../src/client.ts";
import { createApp, failure, ifServed, isRouteMissing, serverAvailable, startLive, type LiveServer } from "./helpers/live.ts";
import { SDK_TYPE_KEYS } from "./helpers/type-keys.ts";

/** The property names a response really has, sorted. */
const keysOf = (value: object): string[] => Object.keys(value).sort();
/** The property names the SDK's type declares (from helpers/type-keys.ts), sorted; `omit` drops optional ones absent here. */
const typeKeys = (name: string, omit: string[] = []): string[] => SDK_TYPE_KEYS[name]!.filter((k) => !omit.includes(k)).sort();

function hs256(claims: Record<string, unknown>, secret: string): string {
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const body = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}

describe.skipIf(!serverAvailable)("live server", () => {
  let server: LiveServer;
  let tally: Tally;
  let appId: string;
  const run = Date.now().toString(36);

  beforeAll(async () => {
    server = await startLive();
    const created = await createApp(server, "sdk-live");
    appId = created.appId;
    tally = new Tally({ apiKey: created.secretKey, baseUrl: server.url });
  });

  afterAll(async () => {
    await server?.close();
  });

  describe("apps, app, apiKeys", () => {
    it("apps.create needs the admin token and returns a working secret key", async () => {
      const admin = new Tally({ apiKey: server.adminToken, baseUrl: server.url });
      const { app, secretKey } = await admin.apps.create({ name: "second" });
      expect(app.id).toMatch(/^app_/);
      expect(app.name).toBe("second");
      expect(secretKey).toMatch(/^sk_/);
      const other = new Tally({ apiKey: secretKey, baseUrl: server.url });
      expect((await other.app.get()).id).toBe(app.id);
      await expect(tally.apps.create({ name: "nope" })).rejects.toBeInstanceOf(PermissionError);
      // The admin token acts on one application through the tally-app header.
      const scoped = new Tally({ apiKey: server.adminToken, baseUrl: server.url, appId: app.id });
      expect((await scoped.app.get()).id).toBe(app.id);
    });

    it("apps.list (admin token) returns { items: App[] }", async () => {
      const admin = new Tally({ apiKey: server.adminToken, baseUrl: server.url });
      const listed = await admin.apps.list();
      expect(keysOf(listed)).toEqual(["items"]);
      expect(listed.items.map((a) => a.id)).toContain(appId);
      for (const app of listed.items) expect(keysOf(app)).toEqual(typeKeys("App"));
      await expect(tally.apps.list()).rejects.toBeInstanceOf(PermissionError);
    });

    it("app.get and app.update", async () => {
      const app = await tally.app.get();
      expect(app.id).toBe(appId);
      expect(app.endUserAuth).toBeNull();
      const renamed = await tally.app.update({ name: "renamed" });
      expect(renamed.name).toBe("renamed");
      const withAuth = await tally.app.update({ endUserAuth: { algorithm: "HS256", secret: "an-end-user-jwt-secret-of-32-chars!" } });
      expect(withAuth.endUserAuth).toMatchObject({ algorithm: "HS256", subjectClaim: "sub", hasSecret: true });
      expect(JSON.stringify(withAuth)).not.toContain("an-end-user-jwt-secret");
    });

    it("apiKeys.create / list / revoke, with scopes", async () => {
      const { apiKey, key } = await tally.apiKeys.create({ name: "reader", type: "secret", scopes: ["read"] });
      expect(apiKey.id).toMatch(/^key_/);
      expect(apiKey.scopes).toEqual(["read"]);
      expect(key).toMatch(/^sk_/);
      const reader = new Tally({ apiKey: key!, baseUrl: server.url, maxRetries: 0 });
      await reader.accounts.list();
      await expect(reader.accounts.create({ name: "x" })).rejects.toBeInstanceOf(PermissionError);

      const listed = [];
      for await (const k of tally.apiKeys.list()) listed.push(k);
      expect(listed.map((k) => k.id)).toContain(apiKey.id);
      expect(JSON.stringify(listed)).not.toContain(key!);

      const revoked = await tally.apiKeys.revoke(apiKey.id);
      expect(revoked.revokedAt).not.toBeNull();
      const err = await reader.accounts.list().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(AuthenticationError);
      expect((err as TallyError).code).toBe("UNAUTHENTICATED");
      expect((err as TallyError).requestId).toMatch(/^req_/);
    });

    it("HMAC keys sign every request and the server verifies them", async () => {
      const hmacKey = await tally.apiKeys.create({ name: "signer", type: "hmac" });
      expect(hmacKey.keyId).toMatch(/^key_/);
      expect(hmacKey.secret).toMatch(/^hk_/);
      const signed = new Tally({ apiKey: hmacKey.keyId!, hmacSecret: hmacKey.secret!, baseUrl: server.url, maxRetries: 0 });
      expect((await signed.app.get()).id).toBe(appId);
      const acct = await signed.accounts.create({ externalId: `hmac-${run}`, metadata: { via: "hmac" } });
      await signed.credits.grant({ accountId: acct.id, amount: 7 });
      const list = await signed.transactions.list({ accountId: acct.id, limit: 5 });
      expect(list.items).toHaveLength(1);
      const wrong = new Tally({ apiKey: hmacKey.keyId!, hmacSecret: "not-the-secret", baseUrl: server.url, maxRetries: 0 });
      await expect(wrong.app.get()).rejects.toBeInstanceOf(AuthenticationError);
    });

    it("an HMAC key signs given only its secret (hk_… names its key) or as key_…:hk_…, as the contract's 'detects an HMAC key' says", async () => {
      const hmacKey = await tally.apiKeys.create({ name: "signer-alone", type: "hmac" });
      for (const apiKey of [hmacKey.secret!, `${hmacKey.keyId}:${hmacKey.secret}`]) {
        const seen: string[] = [];
        const signed = new Tally({
          apiKey,
          baseUrl: server.url,
          maxRetries: 0,
          fetch: (url, init) => {
            seen.push(new Headers(init?.headers).get("authorization") ?? "");
            return fetch(url, init);
          },
        });
        expect((await signed.app.get()).id).toBe(appId);
        await signed.credits.grant({ externalId: `hmac-alone-${run}`, amount: 3 });
        expect(seen).toHaveLength(2);
        for (const header of seen) {
          expect(header.startsWith(`Tally-HMAC keyId=${hmacKey.keyId}, `)).toBe(true);
          expect(header).not.toContain(hmacKey.secret!);
        }
      }
      await tally.apiKeys.delete(hmacKey.keyId!);
      await expect(new Tally({ apiKey: hmacKey.secret!, baseUrl: server.url, maxRetries: 0 }).app.get()).rejects.toBeInstanceOf(AuthenticationError);
    });
  });

  describe("accounts", () => {
    let alice: Account;

    it("create, conflict on a taken externalId, get by id / externalId", async () => {
      alice = await tally.accounts.create({ externalId: `alice-${run}`, name: "Alice", email: "alice@example.com", metadata: { plan: "free" } });
      expect(alice.id).toMatch(/^acct_/);
      expect(alice).toMatchObject({ externalId: `alice-${run}`, name: "Alice", email: "alice@example.com", metadata: { plan: "free" } });
      const dup = await tally.accounts.create({ externalId: `alice-${run}` }).catch((e: unknown) => e);
      expect(dup).toBeInstanceOf(ConflictError);
      expect((dup as TallyError).code).toBe("ACCOUNT_EXISTS");
      expect(await tally.accounts.get(alice.id)).toEqual(alice);
      expect(await tally.accounts.get({ accountId: alice.id })).toEqual(alice);
      expect(await tally.accounts.get({ externalId: `alice-${run}` })).toEqual(alice);
      expect(await tally.accounts.getByExternalId(`alice-${run}`)).toEqual(alice);
      const missing = await tally.accounts.get("acct_doesnotexist").catch((e: unknown) => e);
      expect(missing).toBeInstanceOf(NotFoundError);
      expect((missing as TallyError).code).toBe("ACCOUNT_NOT_FOUND");
    });

    it("the same Idempotency-Key replays the first response", async () => {
      const key = `create-${run}`;
      const a = await tally.accounts.create({ externalId: `idem-${run}` }, { idempotencyKey: key });
      const b = await tally.accounts.create({ externalId: `idem-${run}` }, { idempotencyKey: key });
      expect(b).toEqual(a);
      const reused = await tally.accounts.create({ externalId: `other-${run}` }, { idempotencyKey: key }).catch((e: unknown) => e);
      expect(reused).toBeInstanceOf(ConflictError);
      expect((reused as TallyError).code).toBe("IDEMPOTENCY_KEY_REUSED");
    });

    it("upsertByExternalId creates then updates", async () => {
      const created = await tally.accounts.upsertByExternalId(`upsert-${run}`, { name: "First" });
      expect(created.name).toBe("First");
      const updated = await tally.accounts.upsertByExternalId(`upsert-${run}`, { name: "Second" });
      expect(updated.id).toBe(created.id);
      expect(updated.name).toBe("Second");
      const bare = await tally.accounts.upsertByExternalId(`upsert-bare-${run}`);
      expect(bare.externalId).toBe(`upsert-bare-${run}`);
    });

    it("update by id or externalId", async () => {
      const a = await tally.accounts.update(alice.id, { name: "Alice B." });
      expect(a.name).toBe("Alice B.");
      const b = await tally.accounts.update({ externalId: `alice-${run}` }, { metadata: { plan: "pro" } });
      expect(b.metadata).toEqual({ plan: "pro" });
    });

    it("list filters and paginates (page and for await)", async () => {
      for (let i = 0; i < 5; i++) await tally.accounts.create({ externalId: `page-${run}-${i}`, email: `page${i}@example.com` });
      const filtered = await tally.accounts.list({ externalId: `page-${run}-3` });
      expect(filtered.items.map((a) => a.externalId)).toEqual([`page-${run}-3`]);
      const byEmail = await tally.accounts.list({ email: "page2@example.com" });
      expect(byEmail.items).toHaveLength(1);
      const first = await tally.accounts.list({ limit: 2 });
      expect(first.items).toHaveLength(2);
      expect(first.hasMore).toBe(true);
      expect(first.nextCursor).not.toBeNull();
      const ids: string[] = [];
      for await (const a of tally.accounts.list({ limit: 2 })) ids.push(a.id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids.length).toBeGreaterThanOrEqual(8);
      const second = await first.getNextPage();
      expect(second.items[0]!.id).toBe(ids[2]);
    });

    it("balance, balances and grants", async () => {
      await tally.credits.grant({ accountId: alice.id, amount: 100 });
      await tally.credits.grant({ accountId: alice.id, amount: 40, unit: "gpu_seconds", expiresAt: new Date(Date.now() + 86_400_000).toISOString() });
      const b = await tally.accounts.balance(alice.id);
      expect(b).toMatchObject({ accountId: alice.id, unit: "credits", balance: 100, reserved: 0, available: 100 });
      const gpu = await tally.accounts.balance({ externalId: `alice-${run}` }, { unit: "gpu_seconds" });
      expect(gpu.available).toBe(40);
      expect(gpu.expiringNext?.amount).toBe(40);
      const all = await tally.accounts.balances(alice.id);
      expect(all.accountId).toBe(alice.id);
      expect(all.balances.map((x) => x.unit).sort()).toEqual(["credits", "gpu_seconds"]);
      const lots = [];
      for await (const g of tally.accounts.grants({ externalId: `alice-${run}` })) lots.push(g);
      expect(lots).toHaveLength(2);
      const gpuLots = await tally.accounts.grants(alice.id, { unit: "gpu_seconds", active: true });
      expect(gpuLots.items).toHaveLength(1);
      expect(gpuLots.items[0]).toMatchObject({ unit: "gpu_seconds", amount: 40, remaining: 40, source: "manual" });
    });
  });

  describe("credits and transactions", () => {
    const ext = `bob-${run}`;
    let deducted: Transaction;

    it("grant creates the account for an unknown externalId", async () => {
      const out = await tally.credits.grant({ externalId: ext, amount: 1000, source: "purchase", reference: "order_123", description: "Starter", metadata: { paymentId: "pay_1" } });
      expect(out.alreadyProcessed).toBe(false);
      expect(out.transaction).toMatchObject({ type: "grant", amount: 1000, balanceAfter: 1000, reference: "order_123" });
      expect(out.grant).toMatchObject({ amount: 1000, remaining: 1000, source: "purchase" });
      expect(out.balance.available).toBe(1000);
      expect((await tally.accounts.getByExternalId(ext)).id).toBe(out.transaction.accountId);
      const promo = await tally.credits.grant({ externalId: ext, amount: 50, source: "promotional", priority: -1, idempotencyKey: `promo-${run}` });
      const again = await tally.credits.grant({ externalId: ext, amount: 50, source: "promotional", priority: -1, idempotencyKey: `promo-${run}` });
      expect(again.alreadyProcessed).toBe(true);
      expect(again.transaction.id).toBe(promo.transaction.id);
      expect(again.balance.balance).toBe(1050);
    });

    it("deduct burns in order, is idempotent and has a dry run", async () => {
      const dry = await tally.credits.deduct({ externalId: ext, amount: 60, dryRun: true });
      expect(dry.wouldSucceed).toBe(true);
      expect(dry.allocations.map((a) => a.amount)).toEqual([50, 10]);
      const out = await tally.credits.deduct({ externalId: ext, amount: 60, operation: "app.chat.reply", usageEventId: `turn-${run}`, description: "Chat reply", metadata: { model: "x" } });
      deducted = out.transaction;
      expect(out.alreadyProcessed).toBe(false);
      expect(deducted).toMatchObject({ type: "deduct", amount: -60, operation: "app.chat.reply", idempotencyKey: `turn-${run}` });
      expect(deducted.allocations.map((a) => [a.source, a.amount])).toEqual([
        ["promotional", 50],
        ["purchase", 10],
      ]);
      expect(out.balance.available).toBe(990);
      const replay = await tally.credits.deduct({ externalId: ext, amount: 60, operation: "app.chat.reply", idempotencyKey: `turn-${run}` });
      expect(replay.alreadyProcessed).toBe(true);
      expect(replay.transaction.id).toBe(deducted.id);
      expect(replay.balance.available).toBe(990);
      // Without a key the SDK's Idempotency-Key guards the ledger.
      const plain = await tally.credits.deduct({ externalId: ext, amount: 1 });
      expect(plain.transaction.idempotencyKey).not.toBeNull();
    });

    it("deduct beyond the balance → InsufficientCreditsError with details", async () => {
      const err = await tally.credits.deduct({ externalId: ext, amount: 1_000_000, idempotencyKey: `big-${run}` }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(InsufficientCreditsError);
      const e = err as InsufficientCreditsError;
      expect(e.status).toBe(402);
      expect(e.code).toBe("INSUFFICIENT_CREDITS");
      expect(e.details).toMatchObject({ required: 1_000_000, unit: "credits" });
      expect(e.available).toBe(989);
      expect(e.method).toBe("POST");
      expect(e.path).toBe("/v1/credits/deduct");
      const unknown = await tally.credits.deduct({ externalId: `nobody-${run}`, amount: 1 }).catch((x: unknown) => x);
      expect(unknown).toBeInstanceOf(NotFoundError);
      const invalid = await tally.credits.deduct({ externalId: ext, amount: -5 }).catch((x: unknown) => x);
      expect(invalid).toBeInstanceOf(ValidationError);
    });

    it("refund returns credits, never more than the original", async () => {
      const r = await tally.credits.refund({ transactionId: deducted.id, amount: 20, reason: "bad answer" });
      expect(r.transaction).toMatchObject({ type: "refund", amount: 20, refundOf: deducted.id });
      expect(r.balance.available).toBe(1009);
      const over = await tally.credits.refund({ transactionId: deducted.id, amount: 41 }).catch((e: unknown) => e);
      expect(over).toBeInstanceOf(ConflictError);
      expect((over as TallyError).code).toBe("REFUND_EXCEEDS_ORIGINAL");
    });

    it("transactions.create credit and debit", async () => {
      const credit = await tally.transactions.create({ externalId: ext, type: "credit", amount: 100, description: "Refund", metadata: { reason: "support" } });
      expect(credit.transaction).toMatchObject({ type: "credit", amount: 100 });
      const debit = await tally.transactions.create({ externalId: ext, type: "debit", amount: 9 });
      expect(debit.transaction).toMatchObject({ type: "debit", amount: -9 });
      expect(debit.balance.available).toBe(1100);
      const overdraw = await tally.transactions.create({ externalId: ext, type: "debit", amount: 1_000_000 }).catch((e: unknown) => e);
      expect(overdraw).toBeInstanceOf(InsufficientCreditsError);
    });

    it("transactions.list (filters, cursor, offset) and get", async () => {
      const deducts = await tally.transactions.list({ externalId: ext, type: "deduct" });
      expect(deducts.items.length).toBe(2);
      expect(deducts.items.every((t) => t.type === "deduct")).toBe(true);
      const all: Transaction[] = [];
      for await (const t of tally.transactions.list({ externalId: ext, limit: 2 })) all.push(t);
      expect(all.length).toBe(7);
      expect(all[0]!.createdAt >= all[all.length - 1]!.createdAt).toBe(true);
      const byOffset = await tally.transactions.list({ externalId: ext, limit: 3, offset: 3 });
      expect(byOffset.pagination).toEqual({ limit: 3, offset: 3, total: 7 });
      expect(byOffset.items.map((t) => t.id)).toEqual(all.slice(3, 6).map((t) => t.id));
      const viaOffset: string[] = [];
      for await (const t of tally.transactions.list({ externalId: ext, limit: 3, offset: 0 })) viaOffset.push(t.id);
      expect(viaOffset).toEqual(all.map((t) => t.id));
      expect(await tally.transactions.get(deducted.id)).toMatchObject({ id: deducted.id, allocations: deducted.allocations });
      const missing = await tally.transactions.get("txn_missing").catch((e: unknown) => e);
      expect((missing as TallyError).code).toBe("TRANSACTION_NOT_FOUND");
    });
  });

  describe("reservations and guard", () => {
    const ext = `carol-${run}`;

    beforeAll(async () => {
      await tally.credits.grant({ externalId: ext, amount: 1000 });
    });

    it("create, get, list, capture, extend, confirm", async () => {
      const r = await tally.reservations.create({ externalId: ext, amount: 500, ttlSeconds: 300, operation: "llm.call", reference: "req_123", metadata: { requestId: "req_123" } });
      expect(r).toMatchObject({ amount: 500, capturedAmount: 0, status: "held", operation: "llm.call" });
      expect(keysOf(r)).toEqual([...typeKeys("Reservation"), "balance"].sort());
      expect(r.balance).toMatchObject({ reserved: 500, available: 500 });
      expect(r.alreadyProcessed).toBeUndefined();
      expect((await tally.accounts.balance({ externalId: ext })).reserved).toBe(500);
      expect((await tally.reservations.get(r.id)).status).toBe("held");
      const listed = await tally.reservations.list({ accountId: r.accountId, status: "held" });
      expect(listed.items.map((x) => x.id)).toContain(r.id);
      const cap = await tally.reservations.capture(r.id, { amount: 100 });
      expect(cap.reservation.capturedAmount).toBe(100);
      expect(cap.transaction.type).toBe("reservation_capture");
      const extended = await tally.reservations.extend(r.id, { ttlSeconds: 900 });
      expect(Date.parse(extended.expiresAt)).toBeGreaterThan(Date.parse(r.expiresAt));
      const done = await tally.reservations.confirm(r.id, { amount: 420, description: "Chat completion" });
      expect(done.reservation.status).toBe("confirmed");
      expect(done.reservation.confirmedAmount).toBe(420);
      expect(done.balance).toMatchObject({ balance: 580, reserved: 0, available: 580 });
      const again = await tally.reservations.confirm(r.id, { amount: 420 }).catch((e: unknown) => e);
      expect(again).toBeInstanceOf(ConflictError);
      expect((again as TallyError).code).toBe("RESERVATION_NOT_HELD");
    });

    it("create without amount holds the operation's price; a replayed key answers alreadyProcessed", async () => {
      await tally.prices.set("rsv.priced", { unit: "credits", amount: 7 });
      const priced = await tally.reservations.create({ externalId: ext, operation: "rsv.priced", idempotencyKey: `rsv-priced-${run}` });
      expect(priced.amount).toBe(7);
      const replay = await tally.reservations.create({ externalId: ext, operation: "rsv.priced", idempotencyKey: `rsv-priced-${run}` });
      expect(replay.id).toBe(priced.id);
      expect(replay.alreadyProcessed).toBe(true);
      const canceled = await tally.reservations.cancel(priced.id, { idempotencyKey: `rsv-cancel-${run}` });
      expect(canceled.alreadyProcessed).toBeUndefined();
      const again = await tally.reservations.cancel(priced.id, { idempotencyKey: `rsv-cancel-${run}` });
      expect(again.alreadyProcessed).toBe(true);
      expect(again.reservation.status).toBe("canceled");
    });

    it("cancel releases, dry run holds nothing, 402 when short", async () => {
      const r = await tally.reservations.create({ externalId: ext, amount: 50 });
      const c = await tally.reservations.cancel(r.id, { reason: "model failed" });
      expect(c.reservation.status).toBe("canceled");
      expect(c.balance.reserved).toBe(0);
      const dry = await tally.reservations.create({ externalId: ext, amount: 10, dryRun: true });
      expect(dry.wouldSucceed).toBe(true);
      expect((await tally.accounts.balance({ externalId: ext })).reserved).toBe(0);
      await expect(tally.reservations.create({ externalId: ext, amount: 1_000_000 })).rejects.toBeInstanceOf(InsufficientCreditsError);
      await expect(tally.reservations.get("rsv_missing")).rejects.toMatchObject({ code: "RESERVATION_NOT_FOUND" });
    });

    it("guard confirms the reported amount, with captures", async () => {
      const before = (await tally.accounts.balance({ externalId: ext })).balance;
      const out = await tally.guard({ externalId: ext, amount: 100, ttlSeconds: 120 }, async (hold) => {
        await hold.capture(10);
        await hold.capture(15);
        hold.setAmount(hold.captured + 5);
        return "streamed";
      });
      expect(out).toBe("streamed");
      const after = await tally.accounts.balance({ externalId: ext });
      expect(before - after.balance).toBe(30);
      expect(after.reserved).toBe(0);
    });

    it("guard cancels when fn throws, and rethrows", async () => {
      const before = await tally.accounts.balance({ externalId: ext });
      let id = "";
      await expect(
        tally.guard({ externalId: ext, amount: 100 }, async (hold) => {
          id = hold.id;
          throw new Error("model down");
        }),
      ).rejects.toThrow("model down");
      expect((await tally.reservations.get(id)).status).toBe("canceled");
      expect(await tally.accounts.balance({ externalId: ext })).toEqual(before);
    });
  });

  describe("usage, prices, units", () => {
    const ext = `dave-${run}`;

    it("prices.set / list, and deducts priced by operation", async () => {
      await tally.credits.grant({ externalId: ext, amount: 10_000 });
      const op = await tally.prices.set("app.chat.reply", { unit: "credits", amount: 3 });
      expect(op).toMatchObject({ key: "app.chat.reply", unit: "credits", amount: 3, modelId: null });
      const model = await tally.prices.set("gpt-4o", { unit: "credits", modelId: "gpt-4o", inputPerMillion: 2500, outputPerMillion: 10000, perRequest: 1 });
      expect(model).toMatchObject({ key: "gpt-4o", modelId: "gpt-4o", inputPerMillion: 2500, outputPerMillion: 10000, perRequest: 1 });
      const keys = [];
      for await (const p of tally.prices.list({ limit: 1 })) keys.push(p.key);
      expect(keys.sort()).toEqual(["app.chat.reply", "gpt-4o", "rsv.priced"]); // rsv.priced: set by the reservations tests
      const priced = await tally.credits.deduct({ externalId: ext, operation: "app.chat.reply", idempotencyKey: `priced-${run}` });
      expect(priced.transaction.amount).toBe(-3);
    });

    it("usage.record (plain and charged), list, summary", async () => {
      const plain = await tally.usage.record({ externalId: ext, context: "customer", modelId: "gpt-4o", usageType: "text", inputTokens: 1000, outputTokens: 420, description: "Chat" });
      expect(plain.usage).toMatchObject({ modelId: "gpt-4o", inputTokens: 1000, outputTokens: 420, context: "customer" });
      expect(plain.transaction).toBeUndefined();
      const charged = await tally.usage.record({ externalId: ext, modelId: "gpt-4o", usageType: "text", inputTokens: 1000, outputTokens: 1000, charge: true, idempotencyKey: `use-${run}` });
      // ceil(1000×2500/1e6) + ceil(1000×10000/1e6) + 1 = 3 + 10 + 1 = 14 (per the contract: ceil of the total)
      expect(charged.transaction?.amount).toBeLessThan(0);
      expect(charged.usage.credits).toBe(-charged.transaction!.amount);
      await tally.usage.record({ externalId: ext, context: "internal", modelId: "embed-1", usageType: "embedding", quantity: 5 });
      const list = await tally.usage.list({ externalId: ext, context: "customer" });
      expect(list.items.length).toBeGreaterThanOrEqual(1);
      expect(list.items.every((u) => u.context === "customer")).toBe(true);
      const all = [];
      for await (const u of tally.usage.list({ externalId: ext, limit: 1 })) all.push(u);
      expect(all).toHaveLength(3);
      const summary = await tally.usage.summary({ groupBy: "model" });
      const gpt = summary.rows.find((r) => r.key === "gpt-4o");
      expect(gpt).toMatchObject({ events: 2, inputTokens: 2000, outputTokens: 1420 });
      const byType = await tally.usage.summary({ groupBy: "usageType", context: "internal" });
      expect(byType.rows).toEqual([expect.objectContaining({ key: "embedding", events: 1, quantity: 5 })]);
    });

    it("units.set / list", async () => {
      const u = await tally.units.set("gpu_seconds", { name: "GPU seconds", decimals: 0 });
      expect(u).toMatchObject({ unit: "gpu_seconds", name: "GPU seconds", decimals: 0 });
      const { items } = await tally.units.list();
      expect(items.map((x) => x.unit)).toContain("gpu_seconds");
    });
  });

  describe("end-user client (/v1/me)", () => {
    it("reads the token's own account, read-only", async () => {
      const ext = `me-${run}`;
      const secret = "live-test-end-user-secret-0123456789abcdef";
      await tally.app.update({ endUserAuth: { algorithm: "HS256", secret } });
      await tally.credits.grant({ externalId: ext, amount: 30 });
      await tally.credits.grant({ externalId: ext, amount: 5, unit: "gpu_seconds" });
      await tally.credits.deduct({ externalId: ext, amount: 4 });
      await tally.usage.record({ externalId: ext, modelId: "m", usageType: "text", inputTokens: 1 });
      await tally.credits.grant({ externalId: `someone-else-${run}`, amount: 999 });
      const token = hs256({ sub: ext, exp: Math.floor(Date.now() / 1000) + 300 }, secret);
      const client = new TallyUserClient({ baseUrl: server.url, appId, token, maxRetries: 0 });
      const me = await ifServed("/v1/me", () => client.me.get());
      if (me === undefined) return;
      expect(me.externalId).toBe(ext);
      expect(await client.me.balance()).toMatchObject({ unit: "credits", balance: 26, available: 26 });
      expect((await client.me.balance({ unit: "gpu_seconds" })).available).toBe(5);
      expect((await client.me.balances()).balances.map((b) => b.unit).sort()).toEqual(["credits", "gpu_seconds"]);
      const txns = [];
      for await (const t of client.me.transactions({ limit: 1 })) txns.push(t);
      expect(txns).toHaveLength(3);
      expect(txns.every((t) => t.accountId === me.id)).toBe(true);
      expect((await client.me.usage()).items).toHaveLength(1);
      expect((await client.me.usage({ modelId: "m" })).items).toHaveLength(1);
      expect((await client.me.usage({ modelId: "not-used" })).items).toHaveLength(0);
      expect((await client.me.subscriptions({ status: "active" })).items).toEqual([]);
      await ifServed("/v1/me/entitlements", async () => expect((await client.me.entitlements()).features).toEqual([]));
      await ifServed("/v1/me/subscriptions", async () => expect((await client.me.subscriptions()).items).toEqual([]));
      const expired = new TallyUserClient({ baseUrl: server.url, appId, token: hs256({ sub: ext, exp: Math.floor(Date.now() / 1000) - 60 }, secret), maxRetries: 0 });
      await expect(expired.me.get()).rejects.toBeInstanceOf(AuthenticationError);
      const forged = new TallyUserClient({ baseUrl: server.url, appId, token: hs256({ sub: ext, exp: Math.floor(Date.now() / 1000) + 60 }, "wrong-secret-wrong-secret-wrong"), maxRetries: 0 });
      await expect(forged.me.get()).rejects.toBeInstanceOf(AuthenticationError);
      // An end-user token cannot use the server API.
      const misuse = new Tally({ apiKey: token, baseUrl: server.url, maxRetries: 0, appId });
      await expect(misuse.accounts.list()).rejects.toBeInstanceOf(PermissionError);
    });
  });

  describe("commerce (skipped loudly while the server does not serve it)", () => {
    const ext = `erin-${run}`;

    it("has every commerce method in the SDK", () => {
      const methods: [object, string[]][] = [
        [tally.products, ["create", "get", "list"]],
        [tally.plans, ["create", "get", "list"]],
        [tally.subscriptions, ["create", "get", "list", "cancel"]],
        [tally.entitlements, ["check", "list"]],
        [tally.addons, ["create", "get", "list", "listAvailable", "purchase", "listActive"]],
        [tally.checkout, ["createSession"]],
        [tally.orders, ["get", "list", "refund", "markPaid"]],
        [tally.purchaseLinks, ["list"]],
        [tally.invoices, ["list"]],
        [tally.webhookEndpoints, ["create", "list", "get", "delete", "deliveries"]],
        [tally.accounts, ["setAutoTopup", "setSpendLimit", "getSpendLimit"]],
        [tally.apps, ["create", "list"]],
      ];
      for (const [resource, names] of methods) for (const n of names) expect(typeof (resource as Record<string, unknown>)[n], n).toBe("function");
    });

    it("products, plans, subscriptions, entitlements", async () => {
      await tally.accounts.create({ externalId: ext });
      const product = await ifServed("products", () => tally.products.create({ name: "Studio", description: "Image studio" }));
      if (product !== undefined) {
        expect(product.id).toMatch(/^prd_/);
        expect((await tally.products.get(product.id)).name).toBe("Studio");
        expect((await tally.products.list()).items.map((p) => p.id)).toContain(product.id);
      }
      const plan = await ifServed("plans", () =>
        tally.plans.create({
          ...(product ? { productId: product.id } : {}),
          name: "Pro",
          priceAmount: 2000,
          currency: "usd",
          interval: "month",
          credits: [{ unit: "credits", amount: 500 }],
          features: ["advanced_analytics"],
        }),
      );
      if (plan !== undefined) {
        expect(plan.id).toMatch(/^plan_/);
        expect((await tally.plans.get(plan.id)).priceAmount).toBe(2000);
        expect((await tally.plans.list()).items.map((p) => p.id)).toContain(plan.id);
        const sub = await ifServed("subscriptions", () => tally.subscriptions.create({ externalId: ext, planId: plan.id, startMode: "immediate" }));
        if (sub !== undefined) {
          expect(["active", "trial"]).toContain(sub.status);
          expect(keysOf(sub)).toEqual(typeKeys("Subscription"));
          expect(await tally.subscriptions.get(sub.id)).toEqual(sub);
          await expect(tally.subscriptions.get("sub_missing")).rejects.toBeInstanceOf(NotFoundError);
          expect((await tally.subscriptions.list({ externalId: ext })).items.map((s) => s.id)).toContain(sub.id);
          // startMode defaults to "immediate".
          await tally.accounts.create({ externalId: `${ext}-default` });
          const byDefault = await tally.subscriptions.create({ externalId: `${ext}-default`, planId: plan.id });
          expect(byDefault.status).toBe("active");
          expect(byDefault.currentPeriodStart).toBe(byDefault.createdAt);
          const can = await ifServed("entitlements", () => tally.entitlements.check({ externalId: ext, feature: "advanced_analytics" }));
          if (can !== undefined) expect(can).toEqual({ allowed: true, reason: "ok" });
          const features = await ifServed("entitlements list", () => tally.entitlements.list({ externalId: ext }));
          if (features !== undefined) expect(features.features.map((f) => f.feature)).toContain("advanced_analytics");
          const canceled = await tally.subscriptions.cancel(sub.id, { reason: "User requested cancellation" });
          expect(["pending_cancel", "canceled"]).toContain(canceled.status);
        }
      }
      await ifServed("entitlements", async () => {
        const none = await tally.entitlements.check({ externalId: `alice-${run}` });
        expect(none.allowed).toBe(false);
      });
    });

    it("addons, purchase, checkout, orders, purchase links, invoices", async () => {
      const addon = await ifServed("addons", () => tally.addons.create({ name: "Free pack", unit: "credits", creditQty: 100, priceAmount: 0, currency: "usd" }));
      if (addon !== undefined) {
        expect((await tally.addons.get(addon.id)).creditQty).toBe(100);
        expect((await tally.addons.list()).items.map((a) => a.id)).toContain(addon.id);
        const available = await ifServed("addons available", () => tally.addons.listAvailable({ externalId: ext }));
        if (available !== undefined) expect(available.items.map((a) => a.id)).toContain(addon.id);
        const purchase = await ifServed("addon purchase", () => tally.addons.purchase({ externalId: ext }, { addonId: addon.id }));
        if (purchase !== undefined) {
          expect(purchase.requiresPayment).toBe(false);
          expect(purchase.creditQty).toBe(100);
          const order = await tally.orders.get(purchase.order.id);
          expect(order.status).toBe("paid");
        }
        const active = await ifServed("active addons", () => tally.addons.listActive({ externalId: ext }));
        if (active !== undefined && purchase !== undefined) expect(active.pools[0]?.remaining).toBe(100);
      }
      await ifServed("orders", async () => {
        expect(await failure(tally.orders.get("ord_missing"))).toMatchObject({ code: "ORDER_NOT_FOUND" });
      });
      await ifServed("checkout sessions", async () => {
        const plans = await tally.plans.list();
        const plan = plans.items[0];
        if (plan === undefined) return;
        const session = await tally.checkout.createSession({ externalId: ext, planId: plan.id, successUrl: "https://example.com/ok", cancelUrl: "https://example.com/cancel" }).catch((e: unknown) => {
          if (isRouteMissing(e)) throw e;
          return e;
        });
        if (session instanceof TallyError) {
          expect(session.status).not.toBe(500);
        } else {
          expect((session as { checkoutUrl: string }).checkoutUrl).toMatch(/^https?:/);
        }
      });
      const links = await ifServed("purchase links", () => tally.purchaseLinks.list({ externalId: ext }));
      if (links !== undefined) expect(Array.isArray(links.options)).toBe(true);
      const invoices = await ifServed("invoices", async () => (await tally.invoices.list({ externalId: ext })).items);
      if (invoices !== undefined) expect(Array.isArray(invoices)).toBe(true);
      await ifServed("order mark-paid", async () => {
        expect(await failure(tally.orders.markPaid("ord_missing"))).toBeInstanceOf(NotFoundError);
      });
      await ifServed("order refund", async () => {
        expect(await failure(tally.orders.refund("ord_missing"))).toBeInstanceOf(NotFoundError);
      });
    });

    it("a paid add-on: purchase (pending) → markPaid → invoice → refund, with the shapes the SDK declares", async () => {
      const buyer = `frank-${run}`;
      await tally.accounts.create({ externalId: buyer });
      const pack = await tally.addons.create({ name: "Paid pack", unit: "credits", creditQty: 250, priceAmount: 900, currency: "usd" });
      const purchase = await tally.addons.purchase({ externalId: buyer }, { addonId: pack.id, idempotencyKey: `paid-pack-${run}` });
      expect(purchase.requiresPayment).toBe(true);
      const pending = purchase.order;
      expect(keysOf(pending)).toEqual(typeKeys("Order"));
      expect(pending).toMatchObject({ status: "pending", addonId: pack.id, planId: null, subscriptionId: null, provider: "manual", paidAt: null, refundedAt: null });
      expect(pending.checkoutUrl).toMatch(new RegExp(`/checkout/${pending.id}$`));
      expect(await tally.orders.get(pending.id)).toEqual(pending);

      // Item 1: markPaid answers { order, alreadyProcessed } and takes { providerRef, paymentRef }.
      const paid = await tally.orders.markPaid(pending.id, { providerRef: `manual-${run}`, paymentRef: `bank-${run}` });
      expect(keysOf(paid)).toEqual(["alreadyProcessed", "order"]);
      expect(paid.alreadyProcessed).toBe(false);
      expect(keysOf(paid.order)).toEqual(typeKeys("Order"));
      expect(paid.order).toMatchObject({ id: pending.id, status: "paid", refundedAt: null, providerRef: `manual-${run}` });
      expect(paid.order.paidAt).not.toBeNull();
      expect((await tally.accounts.balance({ externalId: buyer })).available).toBe(250);
      const repeat = await tally.orders.markPaid(pending.id);
      expect(repeat.alreadyProcessed).toBe(true);
      expect(repeat.order.status).toBe("paid");
      expect((await tally.accounts.balance({ externalId: buyer })).available).toBe(250);
      const listed = await tally.orders.list({ externalId: buyer });
      expect(listed.items.map((o) => [o.id, o.status])).toEqual([[pending.id, "paid"]]);
      expect((await tally.orders.list({ externalId: buyer, status: "pending" })).items).toEqual([]);

      const invoices = (await tally.invoices.list({ externalId: buyer })).items;
      const invoice = invoices.find((i) => i.orderId === pending.id);
      expect(invoice).toBeDefined();
      expect(keysOf(invoice!)).toEqual(typeKeys("Invoice"));
      expect(invoice).toMatchObject({ accountId: pending.accountId, subscriptionId: null, amount: 900, currency: "usd", status: "paid" });
      expect(invoice!.hostedUrl).toMatch(/\/invoices\//);
      for (const line of invoice!.lines) expect(keysOf(line)).toEqual(typeKeys("InvoiceLine"));
      expect(invoice!.lines[0]!.quantity).toEqual(expect.any(Number));

      // Item 2: refund answers the order's fields plus clawback and alreadyProcessed.
      const refunded = await tally.orders.refund(pending.id, { reason: "requested_by_customer" });
      expect(keysOf(refunded)).toEqual([...typeKeys("Order"), "alreadyProcessed", "clawback"].sort());
      expect(refunded).toMatchObject({ id: pending.id, status: "refunded", alreadyProcessed: false });
      expect(refunded.refundedAt).not.toBeNull();
      expect(refunded.clawback.map((t) => [t.type, t.amount])).toEqual([["clawback", -250]]);
      for (const t of refunded.clawback) expect(keysOf(t)).toEqual(typeKeys("Transaction"));
      const refundedAgain = await tally.orders.refund(pending.id);
      expect(refundedAgain).toMatchObject({ status: "refunded", alreadyProcessed: true, clawback: [] });
    });

    it("webhook deliveries: the delivery shape, with its attempt log", async () => {
      const received: string[] = [];
      const receiver = createServer((req, res) => {
        let body = "";
        req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")));
        req.on("end", () => {
          received.push(body);
          res.writeHead(200, { "content-type": "text/plain" }).end("ok");
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
      try {
        const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks`;
        const endpoint = await tally.webhookEndpoints.create({ url, events: ["credits.granted"], balanceLowThreshold: 5 });
        expect(keysOf(endpoint)).toEqual(typeKeys("WebhookEndpoint"));
        expect(endpoint).toMatchObject({ url, events: ["credits.granted"], balanceLowThreshold: 5 });
        expect(endpoint.secret).toEqual(expect.any(String));
        const fetched = await tally.webhookEndpoints.get(endpoint.id);
        expect(keysOf(fetched)).toEqual(typeKeys("WebhookEndpoint", ["secret"]));

        const granted = await tally.credits.grant({ externalId: `hooked-${run}`, amount: 11 });
        let delivery = (await tally.webhookEndpoints.deliveries(endpoint.id)).items[0];
        for (let i = 0; i < 100 && delivery?.status !== "delivered"; i++) {
          await new Promise((r) => setTimeout(r, 200));
          delivery = (await tally.webhookEndpoints.deliveries(endpoint.id)).items[0];
        }
        expect(delivery).toBeDefined();
        const d = delivery!;
        expect(keysOf(d)).toEqual(typeKeys("WebhookDelivery"));
        expect(d).toMatchObject({ endpointId: endpoint.id, type: "credits.granted", status: "delivered", attempts: 1, lastStatusCode: 200, lastError: null, nextAttemptAt: null });
        expect(d.deliveredAt).not.toBeNull();
        expect(d.payload).toMatchObject({ id: d.eventId, type: "credits.granted" });
        expect(d.payload.data).toMatchObject({ accountId: granted.transaction.accountId });
        expect(received.map((b) => JSON.parse(b) as unknown)).toContainEqual(d.payload);
        expect(d.attemptLog).toHaveLength(1);
        expect(keysOf(d.attemptLog[0]!)).toEqual(typeKeys("WebhookDeliveryAttempt"));
        expect(d.attemptLog[0]).toMatchObject({ attempt: 1, statusCode: 200, error: null });

        // Item 6: delete answers { id, deleted }.
        const deleted = await tally.webhookEndpoints.delete(endpoint.id);
        expect(deleted).toEqual({ id: endpoint.id, deleted: true });
        await expect(tally.webhookEndpoints.get(endpoint.id)).rejects.toBeInstanceOf(NotFoundError);

        const everything = await tally.webhookEndpoints.create({ url, events: ["*"] });
        expect(everything.events).toEqual(["*"]);
        expect(everything.balanceLowThreshold).toBeNull();
        expect(await tally.webhookEndpoints.delete(everything.id)).toEqual({ id: everything.id, deleted: true });
      } finally {
        await new Promise<void>((resolve) => receiver.close(() => resolve()));
      }
    });

    it("spend limits: set, get (with spent), 404 for a unit without limits", async () => {
      const spender = `gina-${run}`;
      await tally.credits.grant({ externalId: spender, amount: 100 });
      const set = await tally.accounts.setSpendLimit({ externalId: spender }, "credits", { perHour: 50, perDay: null });
      expect(keysOf(set)).toEqual(typeKeys("SpendLimit"));
      expect(set).toMatchObject({ unit: "credits", perHour: 50, perDay: null, perMonth: null, spent: { hour: 0, day: 0, month: 0 } });
      await tally.credits.deduct({ externalId: spender, amount: 7 });
      const got = await tally.accounts.getSpendLimit({ externalId: spender }, "credits");
      expect(keysOf(got)).toEqual(typeKeys("SpendLimit"));
      expect(got).toMatchObject({ accountId: set.accountId, perHour: 50, spent: { hour: 7, day: 7, month: 7 } });
      // (NOT_FOUND, as a missing route is: not through `failure`, which would take it for one.)
      await expect(tally.accounts.getSpendLimit(set.accountId, "gpu_seconds")).rejects.toBeInstanceOf(NotFoundError);
      const topup = await tally.accounts.setAutoTopup({ externalId: spender }, { threshold: 10, addonId: (await tally.addons.list()).items[0]!.id, enabled: false });
      expect(keysOf(topup)).toEqual(typeKeys("AutoTopup"));
      expect(topup).toMatchObject({ unit: "credits", threshold: 10, enabled: false, inFlightOrderId: null });
    });

    it("webhook endpoints and limits", async () => {
      const endpoint = await ifServed("webhook endpoints", () => tally.webhookEndpoints.create({ url: "https://example.com/hooks", events: ["credits.granted"] }));
      if (endpoint !== undefined) {
        expect(endpoint.id).toMatch(/^we_/);
        expect((await tally.webhookEndpoints.list()).items.map((e) => e.id)).toContain(endpoint.id);
        const deliveries = await tally.webhookEndpoints.deliveries(endpoint.id);
        expect(Array.isArray(deliveries.items)).toBe(true);
        await tally.webhookEndpoints.delete(endpoint.id);
      }
      await ifServed("spend limits", () => tally.accounts.setSpendLimit({ externalId: ext }, "credits", { perHour: 1000 }));
      await ifServed("auto top-up", async () => {
        const addons = await tally.addons.list();
        const addon = addons.items[0];
        if (addon !== undefined) await tally.accounts.setAutoTopup({ externalId: ext }, { unit: "credits", threshold: 10, addonId: addon.id, enabled: false });
      });
    });
  });
});

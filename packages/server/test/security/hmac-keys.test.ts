import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES, freshDatabase } from "../support/databases.ts";
import { call } from "../support/http.ts";
import { expectError, expectStatus } from "../http/expect.ts";
import { startTestServer, type TestServer } from "../../src/testing.ts";
import { signHmacRequest } from "../../src/auth/hmac.ts";
import { SecretSealer, sealContext } from "../../src/auth/sealing.ts";
import { SECURITY_ENV, TEST_SECRET_KEY, hmacCall } from "./support.ts";

interface HmacCredentials {
  keyId: string;
  secret: string;
}

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`HMAC-signed keys on ${kind}`, () => {
    // Two server processes share the database on PostgreSQL; SQLite is served by one process.
    let first: TestServer;
    let second: TestServer;
    let cleanup: () => Promise<void>;
    let secretKey: string;
    let creds: HmacCredentials;
    let accountId: string;

    const createHmacKey = async (scopes?: string[]): Promise<HmacCredentials & { id: string }> => {
      const res = await call(first.url, secretKey, "POST", "/v1/api-keys", { name: "signer", type: "hmac", ...(scopes ? { scopes } : {}) });
      expectStatus(res, 201);
      return { id: res.body.apiKey.id, keyId: res.body.keyId, secret: res.body.secret };
    };

    beforeAll(async () => {
      const db = await freshDatabase(kind);
      first = await startTestServer({ database: db.url, env: SECURITY_ENV, jobs: false });
      second = kind === "postgres" ? await startTestServer({ database: db.url, env: SECURITY_ENV, jobs: false }) : first;
      cleanup = async () => {
        if (second !== first) await second.close();
        await first.close();
        await db.cleanup();
      };
      secretKey = (await first.createApp("hmac")).secretKey;
      creds = await createHmacKey();
      accountId = (await call(first.url, secretKey, "POST", "/v1/accounts", { externalId: "hmac-owner" })).body.id;
    }, 60_000);
    afterAll(async () => cleanup?.());

    it("creates an HMAC key whose id and secret are shown once, and never again", async () => {
      const res = await call(first.url, secretKey, "POST", "/v1/api-keys", { name: "once", type: "hmac" });
      expectStatus(res, 201);
      expect(res.body.keyId).toMatch(/^key_[0-9A-Z]{26}$/);
      expect(res.body.keyId).toBe(res.body.apiKey.id);
      // The secret names its key (`hk_<key ulid>_<256 random bits>`), so a client given only it can sign.
      expect(res.body.secret).toMatch(/^hk_[0-9A-Z]{26}_[A-Za-z0-9_-]{43}$/);
      expect(res.body.secret.slice(3, 29)).toBe(res.body.keyId.slice(4));
      expect(res.body.key).toBeUndefined();
      expect(res.body.apiKey).toMatchObject({ type: "hmac", scopes: ["read", "write", "admin"], hint: res.body.secret.slice(-4) });
      const list = await call(first.url, secretKey, "GET", "/v1/api-keys");
      expect(list.text).toContain(res.body.keyId);
      expect(list.text).not.toContain(res.body.secret);
    });

    it("accepts signed requests: GET with a query string, POST with a body, on every process", async () => {
      const read = await hmacCall(first.url, creds, "GET", "/v1/accounts?limit=5&externalId=hmac-owner");
      expectStatus(read, 200);
      expect(read.body.items.map((a: { id: string }) => a.id)).toEqual([accountId]);
      const write = await hmacCall(second.url, creds, "POST", "/v1/credits/grant", { accountId, amount: 5 });
      expectStatus(write, 201);
      expect(write.body.balance.balance).toBe(5);
      expectStatus(await hmacCall(second.url, creds, "POST", `/v1/reservations`, { accountId, amount: 1, ttlSeconds: 60 }), 201);
    });

    it("refuses (401) a replayed request: the same nonce is accepted once, by any process", async () => {
      const body = JSON.stringify({ accountId, amount: 1 });
      const authorization = signHmacRequest(creds, "POST", "/v1/credits/grant", body, { nonce: `replay-${Date.now()}` });
      const headers = { authorization, "content-type": "application/json" };
      const once = await fetch(`${first.url}/v1/credits/grant`, { method: "POST", headers, body });
      expect(once.status).toBe(201);
      for (const server of [first, second]) {
        const again = await call(server.url, undefined, "POST", "/v1/credits/grant", body, { authorization });
        expectError(again, 401, "UNAUTHENTICATED");
        expect(again.body.error.message).toMatch(/nonce/i);
      }
      const balance = await call(first.url, secretKey, "GET", `/v1/accounts/${accountId}/balance`);
      expect(balance.body.balance).toBe(5 + 1);
    });

    it("refuses (401) a timestamp more than 300 s off either way, and accepts one just inside", async () => {
      const nowMs = Date.now();
      expectError(await hmacCall(first.url, creds, "GET", "/v1/app", undefined, { nowMs: nowMs - 301_000 }), 401, "UNAUTHENTICATED");
      expectError(await hmacCall(first.url, creds, "GET", "/v1/app", undefined, { nowMs: nowMs + 302_000 }), 401, "UNAUTHENTICATED");
      expectStatus(await hmacCall(first.url, creds, "GET", "/v1/app", undefined, { nowMs: nowMs - 290_000 }), 200);
    });

    it("refuses (401) a request whose method, path, query or body differs from what was signed, and does nothing", async () => {
      const victim = await createHmacKey();
      const send = (method: string, path: string, body: string | undefined, authorization: string) =>
        call(first.url, undefined, method, path, body, { authorization, ...(body !== undefined ? { "content-type": "application/json" } : {}) });
      // Method: a signed GET replayed as DELETE must not revoke the key.
      const asGet = signHmacRequest(creds, "GET", `/v1/api-keys/${victim.id}`, "");
      expectError(await send("DELETE", `/v1/api-keys/${victim.id}`, undefined, asGet), 401, "UNAUTHENTICATED");
      expectStatus(await hmacCall(first.url, victim, "GET", "/v1/app"), 200);
      // Path and query.
      const forAccounts = signHmacRequest(creds, "GET", "/v1/accounts?limit=5", "");
      expectError(await send("GET", "/v1/accounts?limit=6", undefined, forAccounts), 401, "UNAUTHENTICATED");
      expectError(await send("GET", "/v1/app?limit=5", undefined, signHmacRequest(creds, "GET", "/v1/accounts?limit=5", "")), 401, "UNAUTHENTICATED");
      // Body: signed for 1 credit, sent with 1000.
      const signedBody = JSON.stringify({ accountId, amount: 1 });
      const forBody = signHmacRequest(creds, "POST", "/v1/credits/grant", signedBody);
      expectError(await send("POST", "/v1/credits/grant", JSON.stringify({ accountId, amount: 1000 }), forBody), 401, "UNAUTHENTICATED");
      expect((await call(first.url, secretKey, "GET", `/v1/accounts/${accountId}/balance`)).body.balance).toBe(6);
    });

    it("refuses (401) a wrong secret, an unknown key id, a secret key's id and malformed headers", async () => {
      expectError(await hmacCall(first.url, { keyId: creds.keyId, secret: "hk_not-the-secret" }, "GET", "/v1/app"), 401, "UNAUTHENTICATED");
      expectError(await hmacCall(first.url, { keyId: "key_01ARZ3NDEKTSV4RRFFQ69G5FAV", secret: creds.secret }, "GET", "/v1/app"), 401, "UNAUTHENTICATED");
      const secretKeyId = (await call(first.url, secretKey, "GET", "/v1/api-keys")).body.items.find((k: { type: string }) => k.type === "secret").id;
      expectError(await hmacCall(first.url, { keyId: secretKeyId, secret: secretKey }, "GET", "/v1/app"), 401, "UNAUTHENTICATED");
      const valid = signHmacRequest(creds, "GET", "/v1/app", "");
      const ts = Math.floor(Date.now() / 1000);
      for (const authorization of [
        "Tally-HMAC",
        "Tally-HMAC keyId=" + creds.keyId,
        valid.replace(/, sig=[0-9a-f]+/, ""),
        valid.replace(/sig=([0-9a-f]+)/, "sig=$1, sig=$1"),
        valid.replace(/sig=[0-9a-f]+/, "sig=zz" + "0".repeat(62)),
        valid.replace(/nonce=[^,]+/, "nonce=a b"),
        valid.replace(/ts=\d+/, "ts=-5"),
        `Tally-HMAC keyId=${creds.keyId}, ts=${ts}, nonce=${"n".repeat(200)}, sig=${"0".repeat(64)}`,
        valid.replace("Tally-HMAC", "tally-hmac"),
        `Bearer ${creds.secret}`,
      ]) {
        expectError(await call(first.url, undefined, "GET", "/v1/app", undefined, { authorization }), 401, "UNAUTHENTICATED");
      }
    });

    it("checks the signature before the scope: a read-only HMAC key gets 403 on a write only when correctly signed", async () => {
      const readOnly = await createHmacKey(["read"]);
      expectStatus(await hmacCall(first.url, readOnly, "GET", "/v1/accounts"), 200);
      expectError(await hmacCall(first.url, readOnly, "POST", "/v1/credits/grant", { accountId, amount: 1 }), 403, "FORBIDDEN");
      expectError(await hmacCall(first.url, { ...readOnly, secret: "hk_wrong" }, "POST", "/v1/credits/grant", { accountId, amount: 1 }), 401, "UNAUTHENTICATED");
    });

    it("answers a forged request 401 whatever its body, and only a correctly signed one learns its JSON is bad (400)", async () => {
      const creds = await createHmacKey();
      expectError(await hmacCall(first.url, { ...creds, secret: "hk_wrong" }, "POST", "/v1/accounts", "{not json"), 401, "UNAUTHENTICATED");
      expectError(await hmacCall(first.url, creds, "POST", "/v1/accounts", "{not json"), 400, "INVALID_JSON");
    });

    it("stops accepting a revoked HMAC key on the very next request, on every process", async () => {
      const doomed = await createHmacKey();
      expectStatus(await hmacCall(second.url, doomed, "GET", "/v1/app"), 200);
      expectStatus(await call(first.url, secretKey, "DELETE", `/v1/api-keys/${doomed.id}`), 200);
      expectError(await hmacCall(second.url, doomed, "GET", "/v1/app"), 401, "UNAUTHENTICATED");
      expectError(await hmacCall(first.url, doomed, "GET", "/v1/app"), 401, "UNAUTHENTICATED");
    });

    it("keeps no usable secret in the database: keys are hashed, HMAC secrets sealed under a master key outside it", async () => {
      const fresh = await createHmacKey();
      const rows = await first.server.db.read((q) => q.all<Record<string, unknown>>("SELECT * FROM api_keys"));
      const dump = JSON.stringify(rows);
      expect(dump).not.toContain(fresh.secret);
      expect(dump).not.toContain(fresh.secret.slice(3));
      expect(dump).not.toContain(secretKey);
      const row = rows.find((r) => r["key_id"] === fresh.id)!;
      expect(String(row["secret_sealed"])).toMatch(/^v1\./);
      // With the server's master key the seal opens; with any other key, or moved to another row, it does not.
      const sealed = String(row["secret_sealed"]);
      const appId = String(row["app_id"]);
      expect(new SecretSealer({ secretKey: TEST_SECRET_KEY, secretKeyFile: "/nonexistent" }).open(sealed, sealContext(appId, fresh.id))).toBe(fresh.secret);
      expect(new SecretSealer({ secretKey: "another-master-key-0123456789abcdef-xyz", secretKeyFile: "/nonexistent" }).open(sealed, sealContext(appId, fresh.id))).toBeUndefined();
      expect(new SecretSealer({ secretKey: TEST_SECRET_KEY, secretKeyFile: "/nonexistent" }).open(sealed, sealContext(appId, creds.keyId))).toBeUndefined();
    });
  });
}

describe("the master key file", () => {
  it("is generated once with mode 0600 when TALLY_SECRET_KEY is unset, and reused by the next process", () => {
    const dir = mkdtempSync(join(tmpdir(), "tally-master-"));
    try {
      const file = join(dir, "data", "secret.key");
      const a = new SecretSealer({ secretKey: undefined, secretKeyFile: file });
      const sealed = a.seal("hk_secret", "ctx");
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(new SecretSealer({ secretKey: undefined, secretKeyFile: file }).open(sealed, "ctx")).toBe("hk_secret");
      expect(new SecretSealer({ secretKey: undefined, secretKeyFile: join(dir, "other.key") }).open(sealed, "ctx")).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { createServer, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { SignJWT, base64url, exportJWK, exportSPKI, generateKeyPair } from "jose";
import { DATABASES } from "../support/databases.ts";
import { call, startHarness, type Harness } from "../support/http.ts";
import { expectError, expectStatus } from "../http/expect.ts";
import { HS_SECRET, SECURITY_ENV, enableEndUsers, hsToken } from "./support.ts";
import { EndUserVerifier } from "../../src/auth/end-user.ts";
import { openDatabase } from "../../src/store/open.ts";
import { migrate } from "../../src/store/migrate.ts";
import { createApp, updateApp } from "../../src/domain/apps.ts";
import { systemClock } from "../../src/domain/clock.ts";
import { TallyError } from "../../src/domain/errors.ts";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const now = () => Math.floor(Date.now() / 1000);

// RSA key generation takes a while: one pair for the whole file.
let rsaPair: ReturnType<typeof generateKeyPair> | undefined;
const rsa = () => (rsaPair ??= generateKeyPair("RS256", { extractable: true }));

/** A JWKS document served over HTTP, whose keys the test can replace (rotation). */
async function jwksServer(): Promise<{ url: string; setKeys(keys: object[]): void; fetches(): number; close(): Promise<void> }> {
  let keys: object[] = [];
  let fetches = 0;
  const server: Server = createServer((_req, res) => {
    fetches += 1;
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ keys }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}/.well-known/jwks.json`,
    setKeys: (k) => (keys = k),
    fetches: () => fetches,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`end-user tokens (JWT) on ${kind}`, () => {
    let h: Harness;
    let other: { appId: string; secretKey: string };
    const OTHER_SECRET = "other-app-hs256-secret-abcdefghijklmnop";
    const me = (token: string, path = "/v1/me", headers: Record<string, string> = {}) => call(h.url, token, "GET", path, undefined, headers);

    beforeAll(async () => {
      h = await startHarness(kind, { env: SECURITY_ENV, jobs: false });
      await enableEndUsers(h.url, h.key);
      other = await h.server.createApp("other");
      await enableEndUsers(h.url, other.secretKey, { algorithm: "HS256", secret: OTHER_SECRET });
      for (const [key, ext, amount] of [[h.key, "alice", 100], [h.key, "bob", 7], [other.secretKey, "alice", 999]] as const) {
        expectStatus(await call(h.url, key, "POST", "/v1/credits/grant", { externalId: ext, amount }), 201);
      }
      expectStatus(await h.api("POST", "/v1/credits/deduct", { externalId: "alice", amount: 10, idempotencyKey: "alice-1" }), 201);
      expectStatus(await h.api("POST", "/v1/usage", { externalId: "alice", modelId: "m", usageType: "text", inputTokens: 5 }), 201);
    }, 60_000);
    afterAll(async () => h?.close());

    it("answers /v1/me with the account whose externalId is the token's subject, in the token's application", async () => {
      const token = await hsToken(h.appId, "alice");
      const res = await me(token);
      expectStatus(res, 200);
      expect(res.body.externalId).toBe("alice");
      const byKey = await h.api("GET", "/v1/accounts/by-external-id/alice");
      expect(res.body.id).toBe(byKey.body.id);
    });

    it("serves every /v1/me view with the same shapes as the application routes, for that account only", async () => {
      const token = await hsToken(h.appId, "alice");
      const account = (await me(token)).body;
      const balances = await me(token, "/v1/me/balances");
      expectStatus(balances, 200);
      expect(balances.body).toEqual((await h.api("GET", `/v1/accounts/${account.id}/balances`)).body);
      const balance = await me(token, "/v1/me/balance?unit=credits");
      expect(balance.body).toMatchObject({ accountId: account.id, unit: "credits", balance: 90, available: 90 });
      const txns = await me(token, "/v1/me/transactions?limit=100");
      expectStatus(txns, 200);
      expect(txns.body.items.length).toBe(2);
      expect(txns.body.items.every((t: { accountId: string }) => t.accountId === account.id)).toBe(true);
      const usage = await me(token, "/v1/me/usage");
      expect(usage.body.items).toHaveLength(1);
      expect(usage.body.items[0].accountId).toBe(account.id);
      expectStatus(await me(token, "/v1/me/entitlements"), 200);
      expect((await me(token, "/v1/me/entitlements")).body).toEqual({ features: [] });
      const subs = await me(token, "/v1/me/subscriptions");
      expectStatus(subs, 200);
      expect(subs.body).toMatchObject({ items: [], hasMore: false });
    });

    it("never shows another user's data: bob's token sees bob's account and transactions only", async () => {
      const alice = (await me(await hsToken(h.appId, "alice"))).body;
      const bobToken = await hsToken(h.appId, "bob");
      const bob = await me(bobToken);
      expect(bob.body.externalId).toBe("bob");
      const txns = await me(bobToken, "/v1/me/transactions?limit=100");
      expect(txns.body.items.map((t: { accountId: string }) => t.accountId)).toEqual([bob.body.id]);
      expect(txns.text).not.toContain(alice.id);
    });

    it("keeps applications apart: the same subject in another application is that application's account", async () => {
      const mine = (await me(await hsToken(h.appId, "alice"))).body;
      const theirs = await me(await hsToken(other.appId, "alice", {}, OTHER_SECRET));
      expectStatus(theirs, 200);
      expect(theirs.body.id).not.toBe(mine.id);
      expect((await me(await hsToken(other.appId, "alice", {}, OTHER_SECRET), "/v1/me/balance")).body.balance).toBe(999);
    });

    it("refuses (401) a token naming one application but signed with another application's secret", async () => {
      expectError(await me(await hsToken(h.appId, "alice", {}, OTHER_SECRET)), 401, "UNAUTHENTICATED");
      expectError(await me(await hsToken(other.appId, "alice", {}, HS_SECRET)), 401, "UNAUTHENTICATED");
    });

    it("keeps the HS256 secret out of the database in plain text (sealed under the master key) and out of GET /v1/app", async () => {
      const rows = await h.server.server.db.read((q) => q.all<{ end_user_auth: string | null }>("SELECT end_user_auth FROM apps"));
      const dump = JSON.stringify(rows);
      expect(dump).toContain("secretSealed");
      expect(dump).not.toContain(HS_SECRET);
      expect(dump).not.toContain(OTHER_SECRET);
      const app = await h.api("GET", "/v1/app");
      expect(app.body.endUserAuth).toMatchObject({ algorithm: "HS256", hasSecret: true });
      expect(app.text).not.toContain("secretSealed");
    });

    it("answers 404 ACCOUNT_NOT_FOUND for a valid token whose subject has no account", async () => {
      expectError(await me(await hsToken(h.appId, "nobody-here")), 404, "ACCOUNT_NOT_FOUND");
      expectError(await me(await hsToken(h.appId, "nobody-here"), "/v1/me/transactions"), 404, "ACCOUNT_NOT_FOUND");
    });

    it("refuses (401) an unsigned token (alg: none)", async () => {
      const header = base64url.encode(JSON.stringify({ alg: "none", typ: "JWT" }));
      const payload = base64url.encode(JSON.stringify({ sub: "alice", tally_app: h.appId, exp: now() + 300 }));
      expectError(await me(`${header}.${payload}.`), 401, "UNAUTHENTICATED");
      expectError(await me(`${header}.${payload}.AAAA`), 401, "UNAUTHENTICATED");
    });

    it("refuses (401) expired tokens, not-yet-valid tokens and tokens without exp", async () => {
      expectError(await me(await hsToken(h.appId, "alice", { exp: now() - 60 })), 401, "UNAUTHENTICATED");
      expectError(await me(await hsToken(h.appId, "alice", { nbf: now() + 120 })), 401, "UNAUTHENTICATED");
      const noExp = await new SignJWT({ tally_app: h.appId }).setProtectedHeader({ alg: "HS256" }).setSubject("alice").sign(new TextEncoder().encode(HS_SECRET));
      expectError(await me(noExp), 401, "UNAUTHENTICATED");
    });

    it("refuses (401) a token whose signature or payload was altered", async () => {
      const token = await hsToken(h.appId, "alice");
      const [head, body, sig] = token.split(".") as [string, string, string];
      const flipped = sig.slice(0, -2) + (sig.at(-2) === "A" ? "B" : "A") + sig.at(-1);
      expectError(await me(`${head}.${body}.${flipped}`), 401, "UNAUTHENTICATED");
      const forged = base64url.encode(JSON.stringify({ sub: "bob", tally_app: h.appId, exp: now() + 300 }));
      expectError(await me(`${head}.${forged}.${sig}`), 401, "UNAUTHENTICATED");
      expectError(await me("not.a.jwt"), 401, "UNAUTHENTICATED");
    });

    it("forbids (403) end-user tokens everywhere but GET /v1/me/…: application routes, writes, admin routes", async () => {
      const token = await hsToken(h.appId, "alice");
      expectError(await call(h.url, token, "GET", "/v1/accounts"), 403, "FORBIDDEN");
      expectError(await call(h.url, token, "POST", "/v1/credits/grant", { externalId: "alice", amount: 5 }), 403, "FORBIDDEN");
      expectError(await call(h.url, token, "POST", "/v1/credits/deduct", { externalId: "alice", amount: 5, idempotencyKey: "x" }), 403, "FORBIDDEN");
      expectError(await call(h.url, token, "POST", "/v1/apps", { name: "x" }), 403, "FORBIDDEN");
      expectError(await call(h.url, token, "GET", "/v1/app"), 403, "FORBIDDEN");
      expect((await me(token, "/v1/me/balance")).body.balance).toBe(90);
      expect((await me(token, "/v1/me/usage?modelId=m")).body.items).toHaveLength(1);
      expect((await me(token, "/v1/me/usage?modelId=other")).body.items).toHaveLength(0);
    });

    it("forbids (403) an end-user token on routes that do not exist too, except GETs under /v1/me (404 there)", async () => {
      const token = await hsToken(h.appId, "alice");
      expectError(await call(h.url, token, "POST", "/v1/me/balances", {}), 403, "FORBIDDEN");
      expectError(await call(h.url, token, "DELETE", "/v1/me"), 403, "FORBIDDEN");
      expectError(await call(h.url, token, "GET", "/v1/no-such-thing"), 403, "FORBIDDEN");
      expectError(await me(token, "/v1/me/no-such-thing"), 404, "NOT_FOUND");
      // Without a token, an unknown route is the plain 404 it always was.
      expectError(await call(h.url, undefined, "POST", "/v1/me/balances", {}), 404, "NOT_FOUND");
    });

    it("forbids (403) secret keys and the admin token on /v1/me: those routes are for end users", async () => {
      expectError(await h.api("GET", "/v1/me"), 403, "FORBIDDEN");
      expectError(await call(h.url, h.server.adminToken, "GET", "/v1/me", undefined, { "tally-app": h.appId }), 403, "FORBIDDEN");
    });

    it("verifies RS256 against the configured PEM and refuses algorithm confusion (HS256 signed with the public key)", async () => {
      const app = await h.server.createApp("rsa");
      const { publicKey, privateKey } = await rsa();
      const pem = await exportSPKI(publicKey);
      await enableEndUsers(h.url, app.secretKey, { algorithm: "RS256", publicKey: pem });
      expectStatus(await call(h.url, app.secretKey, "PUT", "/v1/accounts/external/carol", {}), 201);
      const good = await new SignJWT({ tally_app: app.appId }).setProtectedHeader({ alg: "RS256" }).setSubject("carol").setExpirationTime(now() + 60).sign(privateKey);
      expectStatus(await me(good), 200);
      const confused = await new SignJWT({ tally_app: app.appId }).setProtectedHeader({ alg: "HS256" }).setSubject("carol").setExpirationTime(now() + 60).sign(new TextEncoder().encode(pem));
      expectError(await me(confused), 401, "UNAUTHENTICATED");
      const { privateKey: ecKey } = await generateKeyPair("ES256");
      const wrongAlg = await new SignJWT({ tally_app: app.appId }).setProtectedHeader({ alg: "ES256" }).setSubject("carol").setExpirationTime(now() + 60).sign(ecKey);
      expectError(await me(wrongAlg), 401, "UNAUTHENTICATED");
    });

    it("verifies ES256 and checks the configured issuer and audience (401 when either differs)", async () => {
      const app = await h.server.createApp("ec");
      const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
      await enableEndUsers(h.url, app.secretKey, { algorithm: "ES256", publicKey: await exportSPKI(publicKey), issuer: `https://auth.example/${app.appId}`, audience: "tally-web" });
      expectStatus(await call(h.url, app.secretKey, "PUT", "/v1/accounts/external/dave", {}), 201);
      const sign = (iss: string, aud: string) =>
        new SignJWT({ tally_app: app.appId }).setProtectedHeader({ alg: "ES256" }).setSubject("dave").setIssuer(iss).setAudience(aud).setExpirationTime(now() + 60).sign(privateKey);
      expectStatus(await me(await sign(`https://auth.example/${app.appId}`, "tally-web")), 200);
      expectError(await me(await sign("https://evil.example", "tally-web")), 401, "UNAUTHENTICATED");
      expectError(await me(await sign(`https://auth.example/${app.appId}`, "someone-else")), 401, "UNAUTHENTICATED");
    });

    it("refuses (400) a publicKey that is not a PEM public key when the application is configured", async () => {
      const res = await h.api("PATCH", "/v1/app", { endUserAuth: { algorithm: "RS256", publicKey: "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----" } });
      expectError(res, 400, "VALIDATION_ERROR");
      expect((await h.api("GET", "/v1/app")).body.endUserAuth.algorithm).toBe("HS256");
    });

    it("finds the application from the token's issuer when the token has no tally_app claim; several share it → aud decides; ambiguous → 401", async () => {
      const iss = `https://issuer.example/${Date.now()}`;
      const a = await h.server.createApp("iss-a");
      const b = await h.server.createApp("iss-b");
      await enableEndUsers(h.url, a.secretKey, { algorithm: "HS256", secret: "issuer-a-secret-0123456789", issuer: iss, audience: "aud-a" });
      await enableEndUsers(h.url, b.secretKey, { algorithm: "HS256", secret: "issuer-b-secret-0123456789", issuer: iss, audience: "aud-b" });
      for (const app of [a, b]) expectStatus(await call(h.url, app.secretKey, "PUT", "/v1/accounts/external/erin", {}), 201);
      const token = (secret: string, aud: string | undefined, issuer = iss) => {
        const jwt = new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("erin").setIssuer(issuer).setExpirationTime(now() + 60);
        if (aud !== undefined) jwt.setAudience(aud);
        return jwt.sign(new TextEncoder().encode(secret));
      };
      const viaA = await me(await token("issuer-a-secret-0123456789", "aud-a"));
      expectStatus(viaA, 200);
      expect(viaA.body.id).toBe((await call(h.url, a.secretKey, "GET", "/v1/accounts/by-external-id/erin")).body.id);
      const viaB = await me(await token("issuer-b-secret-0123456789", "aud-b"));
      expect(viaB.body.id).toBe((await call(h.url, b.secretKey, "GET", "/v1/accounts/by-external-id/erin")).body.id);
      expectError(await me(await token("issuer-a-secret-0123456789", undefined)), 401, "UNAUTHENTICATED");
      expectError(await me(await token("issuer-a-secret-0123456789", "aud-a", "https://unknown.example")), 401, "UNAUTHENTICATED");
      // The tally-app header names the application just as the claim does.
      const noClaim = await new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject("alice").setExpirationTime(now() + 60).sign(new TextEncoder().encode(HS_SECRET));
      // Naming no application and no issuer, it is found by the one application whose key verifies it.
      expectStatus(await me(noClaim), 200);
      expectStatus(await me(noClaim, "/v1/me", { "tally-app": h.appId }), 200);
      expectError(await me(await hsToken(h.appId, "alice"), "/v1/me", { "tally-app": other.appId }), 401, "UNAUTHENTICATED");
    });

    it("accepts a bare token (sub and exp only, as API.md's TallyUserClient sends) when exactly one application's own key verifies it; a wrong key or two applications sharing one → 401", async () => {
      const bare = (secret: string, sub: string) =>
        new SignJWT({}).setProtectedHeader({ alg: "HS256" }).setSubject(sub).setExpirationTime(now() + 60).sign(new TextEncoder().encode(secret));
      const viaMain = await me(await bare(HS_SECRET, "alice"));
      expectStatus(viaMain, 200);
      expect(viaMain.body.id).toBe((await h.api("GET", "/v1/accounts/by-external-id/alice")).body.id);
      const viaOther = await me(await bare(OTHER_SECRET, "alice"));
      expectStatus(viaOther, 200);
      expect(viaOther.body.id).toBe((await call(h.url, other.secretKey, "GET", "/v1/accounts/by-external-id/alice")).body.id);
      expectError(await me(await bare("a-secret-no-application-has-0123", "alice")), 401, "UNAUTHENTICATED");
      const twin = await h.server.createApp("twin");
      const shared = "shared-by-two-apps-secret-0123456789";
      const twin2 = await h.server.createApp("twin2");
      await enableEndUsers(h.url, twin.secretKey, { algorithm: "HS256", secret: shared });
      await enableEndUsers(h.url, twin2.secretKey, { algorithm: "HS256", secret: shared });
      expectError(await me(await bare(shared, "alice")), 401, "UNAUTHENTICATED");
    });

    it("reads the subject from the configured claim", async () => {
      const app = await h.server.createApp("claim");
      await enableEndUsers(h.url, app.secretKey, { algorithm: "HS256", secret: "claim-secret-0123456789abc", subjectClaim: "uid" });
      expectStatus(await call(h.url, app.secretKey, "PUT", "/v1/accounts/external/user-42", {}), 201);
      const sign = (claims: Record<string, unknown>) => new SignJWT({ tally_app: app.appId, ...claims }).setProtectedHeader({ alg: "HS256" }).setExpirationTime(now() + 60).sign(new TextEncoder().encode("claim-secret-0123456789abc"));
      const res = await me(await sign({ uid: "user-42", sub: "someone-else" }));
      expect(res.body.externalId).toBe("user-42");
      expectError(await me(await sign({ sub: "user-42" })), 401, "UNAUTHENTICATED");
      expectError(await me(await sign({ uid: 42 })), 401, "UNAUTHENTICATED");
    });

    it("verifies tokens against a JWKS URL", async () => {
      const jwks = await jwksServer();
      try {
        const { publicKey, privateKey } = await generateKeyPair("ES256", { extractable: true });
        jwks.setKeys([{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" }]);
        const app = await h.server.createApp("jwks");
        await enableEndUsers(h.url, app.secretKey, { algorithm: "ES256", jwksUrl: jwks.url });
        expectStatus(await call(h.url, app.secretKey, "PUT", "/v1/accounts/external/frank", {}), 201);
        const token = await new SignJWT({ tally_app: app.appId }).setProtectedHeader({ alg: "ES256", kid: "k1" }).setSubject("frank").setExpirationTime(now() + 60).sign(privateKey);
        expectStatus(await me(token), 200);
        const { privateKey: stranger } = await generateKeyPair("ES256");
        const forged = await new SignJWT({ tally_app: app.appId }).setProtectedHeader({ alg: "ES256", kid: "k1" }).setSubject("frank").setExpirationTime(now() + 60).sign(stranger);
        expectError(await me(forged), 401, "UNAUTHENTICATED");
      } finally {
        await jwks.close();
      }
    });
  });
}

describe("end-user verifier with a JWKS URL", () => {
  it("picks up a rotated signing key (unknown kid → refetch after the cooldown) and caches the document meanwhile", async () => {
    const dir = mkdtempSync(join(tmpdir(), "tally-jwks-"));
    const db = openDatabase(`sqlite:${join(dir, "t.db")}`);
    const jwks = await jwksServer();
    try {
      await migrate(db);
      const { app } = await createApp(db, systemClock, "rotation");
      await updateApp(db, systemClock, app.id, { endUserAuth: { algorithm: "ES256", jwksUrl: jwks.url } });
      const verifier = new EndUserVerifier(db, { jwksCooldownMs: 0 });
      const k1 = await generateKeyPair("ES256", { extractable: true });
      const k2 = await generateKeyPair("ES256", { extractable: true });
      const sign = (key: CryptoKey, kid: string) => new SignJWT({ tally_app: app.id }).setProtectedHeader({ alg: "ES256", kid }).setSubject("u1").setExpirationTime(now() + 60).sign(key);
      jwks.setKeys([{ ...(await exportJWK(k1.publicKey)), kid: "k1", alg: "ES256" }]);
      expect(await verifier.verify(await sign(k1.privateKey, "k1"), undefined)).toEqual({ appId: app.id, subject: "u1" });
      await verifier.verify(await sign(k1.privateKey, "k1"), undefined);
      expect(jwks.fetches()).toBe(1);
      jwks.setKeys([{ ...(await exportJWK(k2.publicKey)), kid: "k2", alg: "ES256" }]);
      expect((await verifier.verify(await sign(k2.privateKey, "k2"), undefined)).subject).toBe("u1");
      expect(jwks.fetches()).toBe(2);
      await jwks.close();
      // The JWKS host is down and the token's kid is unknown: a retryable 503, not a verdict on the token.
      const err = await verifier.verify(await sign(k1.privateKey, "k9"), undefined).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(TallyError);
      expect([401, 503]).toContain((err as TallyError).status);
    } finally {
      await db.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

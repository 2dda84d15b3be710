/**
 * `@tally/sdk/client` bundled for the browser (IIFE via esbuild, from the built package) and
 * run in real Chromium against a live server: it sends the end user's token, surfaces the
 * server's answers as typed errors, refuses a secret key, and (when the server verifies
 * end-user JWTs) reads the user's own balance.
 */
import { createHmac } from "node:crypto";
import { existsSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Tally } from "../src/index.ts";
import { createApp, serverAvailable, startLive, type LiveServer } from "./helpers/live.ts";
import { sdkRoot } from "./helpers/paths.ts";

const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`\n${"!".repeat(78)}\n!! ${CHROMIUM} not found: THE BROWSER TEST IS SKIPPED (apt-get install chromium)\n${"!".repeat(78)}\n`);

function hs256(claims: Record<string, unknown>, secret: string): string {
  const b64 = (v: object) => Buffer.from(JSON.stringify(v)).toString("base64url");
  const body = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}

interface BrowserOutcome {
  refusedSecretKey: { name: string; code: string } | null;
  noToken: { name: string; status: number | null; code: string; isTallyError: boolean; requestId: string | null };
  withJwt: { ok: true; available: number; unit: string; externalId: string | null } | { ok: false; name: string; status: number | null; code: string };
  hasServerClient: boolean;
}

describe.skipIf(!serverAvailable || !haveChromium)("browser (Chromium)", () => {
  let server: LiveServer;
  let bundle: string;
  let token: string;
  let appId: string;
  const externalId = `browser-user-${Date.now()}`;

  let pageServer: Server;
  let pageOrigin: string;

  beforeAll(async () => {
    // The test page is served from another origin (another port on 127.0.0.1) than the API, so
    // the SDK's calls are cross-origin and rely on the server's CORS headers for /v1/me.
    pageServer = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<!doctype html><html><head><title>tally sdk</title></head><body>sdk</body></html>");
    });
    await new Promise<void>((resolve) => pageServer.listen(0, "127.0.0.1", resolve));
    pageOrigin = `http://127.0.0.1:${(pageServer.address() as AddressInfo).port}`;

    const esbuild = await import("esbuild");
    const result = await esbuild.build({
      stdin: { contents: `export * from "@tally/sdk/client";`, resolveDir: sdkRoot, loader: "ts" },
      bundle: true,
      format: "iife",
      globalName: "TallySDK",
      platform: "browser",
      target: "es2020",
      write: false,
      conditions: ["import"],
    });
    bundle = result.outputFiles[0]!.text;

    server = await startLive({ TALLY_CORS_ORIGINS: pageOrigin });
    const created = await createApp(server, "browser");
    const secretKey = created.secretKey;
    appId = created.appId;
    const tally = new Tally({ apiKey: secretKey, baseUrl: server.url });
    const jwtSecret = "browser-test-end-user-secret-0123456789";
    await tally.app.update({ endUserAuth: { algorithm: "HS256", secret: jwtSecret } });
    await tally.credits.grant({ externalId, amount: 42 });
    token = hs256({ sub: externalId, exp: Math.floor(Date.now() / 1000) + 600 }, jwtSecret);
  });

  afterAll(async () => {
    await server?.close();
    await new Promise((resolve) => pageServer?.close(resolve));
  });

  it("the bundle holds only the client", () => {
    expect(bundle).toContain("TallyUserClient");
    const code = bundle.replace(/\/\*[\s\S]*?\*\//g, "");
    expect(code).not.toContain("Tally-HMAC");
    expect(code).not.toMatch(/["'`]\/v1\/credits/);
    expect(bundle.length).toBeLessThan(60_000);
  });

  it("runs in Chromium against the live server", async () => {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    try {
      const page = await browser.newPage();
      const consoleErrors: string[] = [];
      page.on("pageerror", (e) => consoleErrors.push(String(e)));
      const authHeaders: string[] = [];
      page.on("request", (req) => {
        if (req.url().includes("/v1/me")) authHeaders.push(req.headers()["authorization"] ?? "");
      });
      await page.goto(`${pageOrigin}/index.html`);
      expect(new URL(page.url()).origin).not.toBe(new URL(server.url).origin);
      await page.addScriptTag({ content: bundle });

      const outcome = (await page.evaluate(
        async ({ baseUrl, jwt, app }) => {
          const sdk = (globalThis as unknown as { TallySDK: typeof import("../src/client.ts") }).TallySDK;
          const describeError = (e: unknown) => {
            const err = e as { name: string; status?: number; code: string; requestId?: string };
            return { name: err.name, status: err.status ?? null, code: err.code, isTallyError: e instanceof sdk.TallyError, requestId: err.requestId ?? null };
          };
          let refusedSecretKey: { name: string; code: string } | null = null;
          try {
            new sdk.TallyUserClient({ baseUrl, token: "sk_live_should_never_be_here" });
          } catch (e) {
            refusedSecretKey = { name: (e as Error).name, code: (e as { code: string }).code };
          }
          let noToken: ReturnType<typeof describeError>;
          try {
            await new sdk.TallyUserClient({ baseUrl, token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJub2JvZHkifQ.invalid-signature", maxRetries: 0 }).me.get();
            noToken = { name: "none", status: 200, code: "OK", isTallyError: false, requestId: null };
          } catch (e) {
            noToken = describeError(e);
          }
          let withJwt;
          try {
            const client = new sdk.TallyUserClient({ baseUrl, appId: app, getToken: async () => jwt, maxRetries: 0 });
            const balance = await client.me.balance({ unit: "credits" });
            const me = await client.me.get();
            withJwt = { ok: true as const, available: balance.available, unit: balance.unit, externalId: me.externalId };
          } catch (e) {
            const d = describeError(e);
            withJwt = { ok: false as const, name: d.name, status: d.status, code: d.code };
          }
          return { refusedSecretKey, noToken, withJwt, hasServerClient: "Tally" in sdk };
        },
        { baseUrl: server.url, jwt: token, app: appId },
      )) as BrowserOutcome;

      expect(consoleErrors).toEqual([]);
      expect(outcome.hasServerClient).toBe(false);
      expect(outcome.refusedSecretKey).toEqual({ name: "ConfigurationError", code: "CONFIGURATION_ERROR" });
      // A bad token: 401 once the server checks end-user tokens; 404 while /v1/me is not served.
      expect(outcome.noToken.isTallyError).toBe(true);
      if (outcome.noToken.status === 404) {
        console.warn("!!! /v1/me is not served yet: the browser test only checked the token is sent and errors are typed");
        expect(outcome.noToken).toMatchObject({ name: "NotFoundError", code: "NOT_FOUND" });
      } else {
        expect(outcome.noToken).toMatchObject({ name: "AuthenticationError", status: 401, code: "UNAUTHENTICATED" });
        expect(outcome.noToken.requestId).toMatch(/^req_/);
      }
      expect(authHeaders[0]).toMatch(/^Bearer eyJ/);
      expect(authHeaders).toContain(`Bearer ${token}`);
      if (!outcome.withJwt.ok && outcome.withJwt.status === 404 && outcome.withJwt.code === "NOT_FOUND") {
        console.warn("!!! /v1/me is not served yet: the valid-JWT read was skipped");
      } else {
        expect(outcome.withJwt).toEqual({ ok: true, available: 42, unit: "credits", externalId });
      }
    } finally {
      await browser.close();
    }
  });
});

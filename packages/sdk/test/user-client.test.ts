/** @tally/sdk/client: read-only, token only, refuses secret keys. */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { AuthenticationError, ConfigurationError, TallyUserClient } from "../src/client.ts";
import * as clientEntry from "../src/client.ts";
import { errorBody, scriptedFetch } from "./helpers/mock-fetch.ts";
import { sdkRoot } from "./helpers/paths.ts";

describe("TallyUserClient", () => {
  it("refuses secret and HMAC keys with a clear error", async () => {
    expect(() => new TallyUserClient({ baseUrl: "http://t", token: "sk_live_abc" })).toThrow(ConfigurationError);
    expect(() => new TallyUserClient({ baseUrl: "http://t", token: "sk_live_abc" })).toThrow(/never a secret/);
    expect(() => new TallyUserClient({ baseUrl: "http://t", token: "hk_abc" })).toThrow(ConfigurationError);
    expect(() => new TallyUserClient({ baseUrl: "http://t" })).toThrow(/token/);
    const { fetch, calls } = scriptedFetch([{ status: 200, body: {} }]);
    const sneaky = new TallyUserClient({ baseUrl: "http://t", getToken: () => "sk_live_abc", fetch });
    await expect(sneaky.me.get()).rejects.toBeInstanceOf(ConfigurationError);
    expect(calls).toHaveLength(0);
  });

  it("calls the /v1/me endpoints with the bearer token", async () => {
    let n = 0;
    const { fetch, calls } = scriptedFetch([{ status: 200, body: { items: [], nextCursor: null, hasMore: false } }]);
    const client = new TallyUserClient({ baseUrl: "http://t/", getToken: async () => `jwt.${++n}`, fetch });
    await client.me.get();
    await client.me.balances();
    await client.me.balance({ unit: "gpu" });
    await client.me.transactions({ limit: 5 });
    await client.me.usage();
    await client.me.entitlements();
    await client.me.subscriptions();
    expect(calls.map((c) => c.url)).toEqual([
      "http://t/v1/me",
      "http://t/v1/me/balances",
      "http://t/v1/me/balance?unit=gpu",
      "http://t/v1/me/transactions?limit=5",
      "http://t/v1/me/usage",
      "http://t/v1/me/entitlements",
      "http://t/v1/me/subscriptions",
    ]);
    expect(calls.every((c) => c.method === "GET")).toBe(true);
    expect(calls[0]!.headers["authorization"]).toBe("Bearer jwt.1");
    expect(calls[6]!.headers["authorization"]).toBe("Bearer jwt.7");
  });

  it("sends the application id as the tally-app header", async () => {
    const { fetch, calls } = scriptedFetch([{ status: 200, body: {} }]);
    await new TallyUserClient({ baseUrl: "http://t", appId: "app_1", token: "jwt", fetch }).me.get();
    expect(calls[0]!.headers["tally-app"]).toBe("app_1");
  });

  it("surfaces a 401 as AuthenticationError", async () => {
    const { fetch } = scriptedFetch([{ status: 401, body: errorBody(401, "UNAUTHENTICATED") }]);
    const client = new TallyUserClient({ baseUrl: "http://t", token: "not-a-jwt", fetch });
    await expect(client.me.balance()).rejects.toBeInstanceOf(AuthenticationError);
  });

  it("exports no server-side client", () => {
    expect("Tally" in clientEntry).toBe(false);
    expect("signRequest" in clientEntry).toBe(false);
  });

  it("the built client bundle contains no server-only code", () => {
    const dist = join(sdkRoot, "dist");
    const entry = readFileSync(join(dist, "client.js"), "utf8");
    const imported = [...entry.matchAll(/from ['"]\.\/([^'"]+)['"]/g)].map((m) => m[1]!);
    const code = [entry, ...imported.map((f) => readFileSync(join(dist, f), "utf8"))].join("\n").replace(/\/\*[\s\S]*?\*\//g, "");
    expect(code).not.toContain("Tally-HMAC");
    expect(code).not.toMatch(/["'`]\/v1\/reservations/);
    expect(code).not.toMatch(/["'`]\/v1\/credits/);
    expect(code).toMatch(/["'`]\/v1\/me/);
  });
});

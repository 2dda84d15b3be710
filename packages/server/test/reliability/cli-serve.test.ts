import { afterAll, describe, expect, it } from "vitest";
import { freshDatabase } from "../support/databases.ts";
import { createApp, freePort, ServerProcess } from "./support.ts";

/** `tally serve` as an operator starts it: the environment the contract names is honoured. */
describe("tally serve", () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it("starts with a short TALLY_ADMIN_TOKEN (a test setup's), warns that it is short, and the token works", { timeout: 60_000 }, async () => {
    const db = await freshDatabase("sqlite");
    const server = new ServerProcess(await freePort(), db.url, "test-admin");
    cleanups.push(async () => {
      await server.kill();
      await db.cleanup();
    });
    await server.start();
    const { appId, secretKey } = await createApp(server.url, "test-admin");
    expect(appId).toMatch(/^app_/);
    expect(secretKey).toMatch(/^sk_/);
    expect(server.output).toContain("TALLY_ADMIN_TOKEN is shorter than 16 characters");
  });
});

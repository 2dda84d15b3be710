import { describe, expect, it } from "vitest";
import { loadConfig } from "../src/config.ts";

/** docs/configuration.md: "A bad value stops the server with a message naming it." */
describe("configuration from the environment", () => {
  it("refuses each bad value with a message naming the setting", () => {
    const bad: Array<[string, string]> = [
      ["PORT", "http"],
      ["LOG_LEVEL", "loud"],
      ["TALLY_SQLITE_SYNCHRONOUS", "EXTRA"],
      ["TALLY_SWEEP_INTERVAL_MS", "abc"],
      ["TALLY_SWEEP_INTERVAL_MS", "-5"],
      ["TALLY_SWEEP_INTERVAL_MS", "0"],
      ["TALLY_PG_POOL_SIZE", "abc"],
      ["TALLY_PG_POOL_SIZE", "0"],
      ["TALLY_PG_LANES", "0"],
      ["TALLY_SQLITE_WAL_COALESCE", "perhaps"],
      ["TALLY_DIRECT_ROUTES", "maybe"],
    ];
    for (const [name, value] of bad) expect(() => loadConfig({ [name]: value }), `${name}=${value}`).toThrow(name);
  });

  it("takes good values, an empty admin token as unset, and a short one (serve warns about it)", () => {
    const config = loadConfig({ PORT: "0", TALLY_SWEEP_INTERVAL_MS: "600000", TALLY_PG_POOL_SIZE: "6", TALLY_SQLITE_WAL_COALESCE: "off", TALLY_SQLITE_SYNCHRONOUS: "off" });
    expect(config).toMatchObject({ port: 0, sweepIntervalMs: 600_000, poolSize: 6, sqliteSynchronous: "OFF" });
    expect(loadConfig({ TALLY_ADMIN_TOKEN: "" }).adminToken).toBeUndefined();
    expect(loadConfig({ TALLY_ADMIN_TOKEN: "test-admin" }).adminToken).toBe("test-admin");
  });
});

import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import semver from "semver";
import { describe, expect, it } from "vitest";

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");

interface LockedPackage {
  version?: string;
  engines?: { node?: string } | string[];
}

/**
 * Tally promises Node.js 20 (package.json `engines`). A dependency's patch release can move to
 * Node.js 22 without a major version (content-disposition 3 and cookie 2 did, under
 * @fastify/static 10.1.4+ and light-my-request 6.8+, which package.json's `overrides` now hold
 * back); npm only warns, and the code keeps working until the day it uses a newer API.
 */
describe("the locked dependencies", () => {
  it("every package in package-lock.json declares it runs on the oldest Node.js that package.json's engines admit", () => {
    const root = JSON.parse(readFileSync(join(REPO_ROOT, "package.json"), "utf8")) as { engines: { node: string } };
    const oldest = semver.minVersion(root.engines.node);
    expect(oldest?.major).toBe(20);
    const lock = JSON.parse(readFileSync(join(REPO_ROOT, "package-lock.json"), "utf8")) as { packages: Record<string, LockedPackage> };
    const refusing: string[] = [];
    for (const [path, entry] of Object.entries(lock.packages)) {
      const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node;
      if (range !== undefined && !semver.satisfies(oldest!, range)) refusing.push(`${path}@${entry.version} wants node ${range}`);
    }
    expect(refusing).toEqual([]);
  });
});

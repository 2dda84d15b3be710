/** The published package: publint and are-the-types-wrong (attw --pack) report no problems. */
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { binPath, sdkRoot } from "./helpers/paths.ts";

const run = promisify(execFile);

async function tool(pkg: string, bin: string, args: string[]): Promise<{ code: number; output: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [binPath(pkg, bin), ...args], { cwd: sdkRoot, maxBuffer: 16 * 1024 * 1024 });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : 1, output: `${e.stdout ?? ""}${e.stderr ?? ""}` };
  }
}

describe("package", () => {
  beforeAll(async () => {
    if (!existsSync(join(sdkRoot, "dist", "index.js"))) await tool("tsup", "tsup", []);
  });

  it("builds every file the exports map names", async () => {
    const pkg = (await import(join(sdkRoot, "package.json"), { with: { type: "json" } })) as { default: { exports: Record<string, unknown> } };
    const targets = JSON.stringify(pkg.default.exports).match(/\.\/dist\/[^"]+/g) ?? [];
    expect(targets.length).toBeGreaterThanOrEqual(12);
    for (const t of targets) expect(existsSync(join(sdkRoot, t)), t).toBe(true);
  });

  it("publint finds no problems", async () => {
    const { code, output } = await tool("publint", "publint", ["--strict"]);
    if (code !== 0) console.error(output);
    expect(code).toBe(0);
    expect(output).toMatch(/All good/);
  });

  it("attw --pack finds no problems", async () => {
    const { code, output } = await tool("@arethetypeswrong/cli", "attw", ["--pack", "."]);
    if (code !== 0) console.error(output);
    expect(code).toBe(0);
    expect(output).toMatch(/No problems found/);
  });
});

/** Every example in examples/ runs against a live server and exits 0. */
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, serverAvailable, startLive, type LiveServer } from "./helpers/live.ts";
import { examplesDir, repoRoot } from "./helpers/paths.ts";

const REQUIRED = ["countwerk.ts", "credits-dev.ts", "ocx-credits.ts", "crovver.ts", "meterly.ts", "llm-chat.ts"];
const examples = readdirSync(examplesDir).filter((f) => f.endsWith(".ts") && !f.startsWith("_"));

function runExample(file: string, env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", join(examplesDir, file)], {
      cwd: repoRoot,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("examples", () => {
  it("has one example per seed system plus llm-chat", () => {
    for (const f of REQUIRED) expect(examples).toContain(f);
  });
});

describe.skipIf(!serverAvailable)("examples against a live server", () => {
  let server: LiveServer;

  beforeAll(async () => {
    server = await startLive();
  });

  afterAll(async () => {
    await server?.close();
  });

  it.each(examples)("%s exits 0", async (file) => {
    const { secretKey } = await createApp(server, `example-${file}`);
    const env: Record<string, string> = { TALLY_BASE_URL: server.url, TALLY_API_KEY: secretKey };
    if (file === "ocx-credits.ts") env["TALLY_ADMIN_TOKEN"] = server.adminToken;
    const { code, stdout, stderr } = await runExample(file, env);
    if (code !== 0) console.error(`--- ${file} stdout ---\n${stdout}\n--- ${file} stderr ---\n${stderr}`);
    for (const line of stdout.split("\n")) if (line.startsWith("skipped:")) console.warn(`!!! ${file}: ${line}`);
    expect(code).toBe(0);
    expect(stdout).toMatch(/: ok\s*$/);
    expect(stdout + stderr).not.toContain(secretKey);
  });

  it("an example exits non-zero on failure", async () => {
    const { code, stderr } = await runExample("countwerk.ts", { TALLY_BASE_URL: server.url, TALLY_API_KEY: "sk_invalid_key" });
    expect(code).toBe(1);
    expect(stderr).toContain("UNAUTHENTICATED");
  });
});

/**
 * CommonJS and ESM consumer projects (temp dirs with the package installed as npm would lay it
 * out: package.json, README.md and dist/) that require/import @tally/sdk, type-check against it,
 * and call a live server.
 */
import { execFile } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createApp, serverAvailable, startLive, type LiveServer } from "./helpers/live.ts";
import { binPath, sdkRoot } from "./helpers/paths.ts";

const run = promisify(execFile);

function install(project: string): void {
  const target = join(project, "node_modules", "@tally", "sdk");
  mkdirSync(target, { recursive: true });
  cpSync(join(sdkRoot, "package.json"), join(target, "package.json"));
  cpSync(join(sdkRoot, "README.md"), join(target, "README.md"));
  cpSync(join(sdkRoot, "dist"), join(target, "dist"), { recursive: true });
}

const program = (req: string) => `
${req}
async function main() {
  const tally = new Tally({ apiKey: process.env.TALLY_API_KEY, baseUrl: process.env.TALLY_BASE_URL });
  const acct = await tally.accounts.create({ externalId: "consumer-" + Date.now() + Math.random() });
  await tally.credits.grant({ accountId: acct.id, amount: 10 });
  const balance = await tally.accounts.balance(acct.id);
  let insufficient = false;
  try { await tally.credits.deduct({ accountId: acct.id, amount: 100 }); } catch (e) { insufficient = e instanceof InsufficientCreditsError && e instanceof TallyError && e.status === 402; }
  const pages = [];
  for await (const t of tally.transactions.list({ accountId: acct.id })) pages.push(t.id);
  let refuses = false;
  try { new TallyUserClient({ baseUrl: process.env.TALLY_BASE_URL, token: "sk_live_x" }); } catch (e) { refuses = e instanceof clientEntry.TallyError; }
  let unauth = false;
  try { await new TallyUserClient({ baseUrl: process.env.TALLY_BASE_URL, token: "not.a.jwt" }).me.get(); } catch (e) { unauth = e instanceof clientEntry.TallyError && (e.status === 401 || e.status === 404); }
  console.log(JSON.stringify({
    available: balance.available, insufficient, transactions: pages.length, refuses, unauth,
    sameErrorClass: serverEntry.TallyError === TallyError && clientEntry.TallyError === TallyError,
  }));
}
main().catch((e) => { console.error(e); process.exit(1); });
`;

const tsProgram = `
import { Tally, TallyError, type Account, type Balance, type Page, type Transaction } from "@tally/sdk";
import { Tally as ServerTally } from "@tally/sdk/server";
import { TallyUserClient, type TallyUserClientOptions } from "@tally/sdk/client";
export async function use(apiKey: string): Promise<number> {
  const tally: ServerTally = new Tally({ apiKey, maxRetries: 1 });
  const account: Account = await tally.accounts.create({ externalId: "x" });
  const balance: Balance = await tally.accounts.balance(account.id);
  const page: Page<Transaction> = await tally.transactions.list({ accountId: account.id });
  for await (const t of tally.transactions.list({ externalId: "x" })) void t.amount;
  const options: TallyUserClientOptions = { baseUrl: "https://t.example", token: "jwt" };
  await new TallyUserClient(options).me.balance({ unit: "credits" });
  // @ts-expect-error amount must be a number
  await tally.credits.grant({ accountId: "a", amount: "5" });
  // @ts-expect-error accountId and externalId are exclusive
  await tally.credits.grant({ accountId: "a", externalId: "b", amount: 5 });
  return balance.available + page.items.length + (TallyError.name.length > 0 ? 0 : 1);
}
`;

describe("consumer projects", () => {
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "tally-sdk-consumers-"));
    for (const kind of ["cjs", "esm"]) {
      const project = join(dir, kind);
      mkdirSync(project, { recursive: true });
      install(project);
      writeFileSync(join(project, "package.json"), JSON.stringify({ name: `consumer-${kind}`, private: true, type: kind === "cjs" ? "commonjs" : "module" }));
    }
    writeFileSync(
      join(dir, "cjs", "index.js"),
      program(`const { Tally, TallyError, InsufficientCreditsError } = require("@tally/sdk");
const serverEntry = require("@tally/sdk/server");
const clientEntry = require("@tally/sdk/client");
const { TallyUserClient } = clientEntry;`),
    );
    writeFileSync(
      join(dir, "esm", "index.js"),
      program(`import { Tally, TallyError, InsufficientCreditsError } from "@tally/sdk";
import * as serverEntry from "@tally/sdk/server";
import * as clientEntry from "@tally/sdk/client";
const { TallyUserClient } = clientEntry;`),
    );
    writeFileSync(join(dir, "esm", "use.ts"), tsProgram);
    writeFileSync(join(dir, "cjs", "use.cts"), tsProgram);
    for (const [kind, module] of [["esm", "nodenext"], ["cjs", "nodenext"]] as const) {
      writeFileSync(
        join(dir, kind, "tsconfig.json"),
        JSON.stringify({ compilerOptions: { strict: true, exactOptionalPropertyTypes: true, noUncheckedIndexedAccess: true, module, moduleResolution: module, target: "es2022", lib: ["es2022", "dom"], types: [], noEmit: true, skipLibCheck: false }, include: ["*.ts", "*.cts"] }),
      );
    }
  });

  afterAll(() => {
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it.concurrent.each(["esm", "cjs"])("%s project type-checks against the published types", async (kind) => {
    const result = await run(process.execPath, [binPath("typescript", "tsc"), "-p", join(dir, kind)]).catch((e: { stdout?: string; stderr?: string }) => e);
    const output = `${(result as { stdout?: string }).stdout ?? ""}${(result as { stderr?: string }).stderr ?? ""}`;
    expect(output).toBe("");
  });

  describe.skipIf(!serverAvailable)("against a live server", () => {
    let server: LiveServer;
    let env: Record<string, string>;

    beforeAll(async () => {
      server = await startLive();
      const { secretKey } = await createApp(server, "consumers");
      env = { ...(process.env as Record<string, string>), TALLY_API_KEY: secretKey, TALLY_BASE_URL: server.url };
    });

    afterAll(async () => {
      await server?.close();
    });

    it.each(["cjs", "esm"])("%s project calls the server", async (kind) => {
      const { stdout } = await run(process.execPath, [join(dir, kind, "index.js")], { cwd: join(dir, kind), env });
      expect(JSON.parse(stdout)).toEqual({ available: 10, insufficient: true, transactions: 1, refuses: true, unauth: true, sameErrorClass: true });
    });
  });
});

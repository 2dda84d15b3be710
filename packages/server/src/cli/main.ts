import { Command, Option } from "commander";
import { loadConfig, type Config } from "../config.ts";
import { startServer } from "../server.ts";
import { openDatabase } from "../store/open.ts";
import { migrate } from "../store/migrate.ts";
import { systemClock } from "../domain/clock.ts";
import { verifyLedger } from "../domain/verify.ts";
import { createApiKey, createApp } from "../domain/apps.ts";
import { grant } from "../domain/credits.ts";
import { getAccountBalance } from "../domain/balances.ts";
import { SqliteDatabase } from "../store/sqlite/database.ts";
import { ensureWalCoalescing } from "../store/sqlite/wal-coalesce.ts";
import { restoreSqliteFile } from "../store/sqlite/restore.ts";
import type { Database } from "../store/sql.ts";
import type { KeyScope } from "../store/records.ts";
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** The admin token's length below which `serve` warns (a generated one is longer). */
const ADMIN_TOKEN_LENGTH_ADVISED = 16;

const program = new Command("tally").description("Tally: a self-hosted credits ledger for AI products");

const databaseOption = () => new Option("--database <url>", "sqlite:PATH or postgres://… (default: TALLY_DATABASE_URL or sqlite:./data/tally.db)");

function configFrom(opts: { database?: string; port?: string; host?: string }): Config {
  return loadConfig(process.env, { database: opts.database, port: opts.port, host: opts.host });
}

async function withDb<T>(opts: { database?: string }, fn: (db: Database) => Promise<T>): Promise<T> {
  const config = configFrom(opts);
  const db = openDatabase(config.databaseUrl, { synchronous: config.sqliteSynchronous });
  try {
    await migrate(db);
    return await fn(db);
  } finally {
    await db.close();
  }
}

program
  .command("serve", { isDefault: true })
  .description("Serve the HTTP API")
  .addOption(databaseOption())
  .option("--port <port>", "port (default PORT or 8787)")
  .option("--host <host>", "interface (default HOST or 127.0.0.1)")
  .action(async (opts: { database?: string; port?: string; host?: string }) => {
    const config = configFrom(opts);
    const server = await startServer(config);
    const boot = server.bootstrap;
    if (boot.adminToken !== undefined || boot.firstApp !== undefined) {
      // Printed once, on the first start: these secrets are stored only as hashes.
      const lines = ["", "Tally is set up. Save these now; they will not be shown again."];
      if (boot.adminToken !== undefined) lines.push(`  Admin token:        ${boot.adminToken}`);
      if (boot.firstApp !== undefined) {
        lines.push(`  First application:  ${boot.firstApp.appId}`);
        lines.push(`  Secret key:         ${boot.firstApp.secretKey}`);
      }
      lines.push("");
      process.stdout.write(lines.join("\n") + "\n");
    }
    process.stdout.write(`Tally listening on ${server.url} (database: ${config.databaseUrl.replace(/\/\/[^@]*@/, "//***@")})\n`);
    const shim = config.databaseUrl.startsWith("sqlite:") ? ensureWalCoalescing() : undefined;
    // Slower commits, same guarantees: worth a line, since nothing else would show it.
    if (shim !== undefined && !shim.active) server.app.log.warn({ reason: shim.reason }, "SQLite runs without Tally's WAL shim (one write per commit, paced checkpoints)");
    // A short operator token is the operator's choice (a test setup, say), but it guards every
    // application: say so rather than refuse to start.
    if (config.adminToken !== undefined && config.adminToken.length < ADMIN_TOKEN_LENGTH_ADVISED) {
      server.app.log.warn(`TALLY_ADMIN_TOKEN is shorter than ${ADMIN_TOKEN_LENGTH_ADVISED} characters: easy to guess; use a long random one (e.g. openssl rand -hex 32) anywhere but a test`);
    }
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      server.app.log.info({ signal }, "shutting down: finishing in-flight requests");
      await server.close();
      process.exit(0);
    };
    process.on("SIGINT", () => void stop("SIGINT"));
    process.on("SIGTERM", () => void stop("SIGTERM"));
  });

program
  .command("migrate")
  .description("Apply database migrations")
  .addOption(databaseOption())
  .action(async (opts: { database?: string }) => {
    const config = configFrom(opts);
    const db = openDatabase(config.databaseUrl);
    try {
      const applied = await migrate(db);
      process.stdout.write(applied.length === 0 ? "Database is up to date.\n" : `Applied migrations: ${applied.join(", ")}\n`);
    } finally {
      await db.close();
    }
  });

const apps = program.command("apps").description("Manage applications");
apps
  .command("create")
  .description("Create an application and print its first secret key")
  .requiredOption("--name <name>", "application name")
  .addOption(databaseOption())
  .action(async (opts: { name: string; database?: string }) => {
    await withDb(opts, async (db) => {
      const { app, secretKey } = await createApp(db, systemClock, opts.name);
      process.stdout.write(JSON.stringify({ appId: app.id, secretKey }, null, 2) + "\n");
    });
  });

const keys = program.command("keys").description("Manage API keys");
keys
  .command("create")
  .description("Create a secret key for an application")
  .requiredOption("--app <appId>", "application id")
  .option("--name <name>", "key name", "CLI key")
  .option("--scopes <scopes>", "comma-separated: read,write,admin", "read,write,admin")
  .addOption(databaseOption())
  .action(async (opts: { app: string; name: string; scopes: string; database?: string }) => {
    await withDb(opts, async (db) => {
      const scopes = opts.scopes.split(",").map((s) => s.trim()) as KeyScope[];
      const { apiKey, key } = await createApiKey(db, systemClock, opts.app, { name: opts.name, type: "secret", scopes });
      process.stdout.write(JSON.stringify({ keyId: apiKey.id, key, scopes: apiKey.scopes }, null, 2) + "\n");
    });
  });

program
  .command("grant")
  .description("Grant credits to an account (created if the external id is new)")
  .requiredOption("--app <appId>", "application id")
  .option("--account <accountId>", "account id")
  .option("--external-id <externalId>", "your id for the account")
  .requiredOption("--amount <amount>", "positive integer")
  .option("--unit <unit>", "unit", "credits")
  .option("--reference <reference>", "reference")
  .addOption(databaseOption())
  .action(async (opts: { app: string; account?: string; externalId?: string; amount: string; unit: string; reference?: string; database?: string }) => {
    const amount = Number(opts.amount);
    if (!Number.isSafeInteger(amount) || amount < 1) throw new Error("--amount must be a positive integer");
    await withDb(opts, async (db) => {
      const result = await grant(
        { db, clock: systemClock, appId: opts.app },
        { accountId: opts.account, externalId: opts.externalId, amount, unit: opts.unit, reference: opts.reference, source: "manual" },
      );
      process.stdout.write(JSON.stringify({ transactionId: result.transaction.id, balance: result.balance }, null, 2) + "\n");
    });
  });

program
  .command("balance")
  .description("Show an account's balance")
  .requiredOption("--app <appId>", "application id")
  .option("--account <accountId>", "account id")
  .option("--external-id <externalId>", "your id for the account")
  .option("--unit <unit>", "unit", "credits")
  .addOption(databaseOption())
  .action(async (opts: { app: string; account?: string; externalId?: string; unit: string; database?: string }) => {
    await withDb(opts, async (db) => {
      const balance = await getAccountBalance({ db, clock: systemClock, appId: opts.app }, { accountId: opts.account, externalId: opts.externalId }, opts.unit);
      process.stdout.write(JSON.stringify(balance, null, 2) + "\n");
    });
  });

program
  .command("verify")
  .description("Recompute every balance and lot from the ledger; exit 1 on any difference")
  .addOption(databaseOption())
  .action(async (opts: { database?: string }) => {
    const report = await withDb(opts, (db) => verifyLedger(db));
    if (report.ok) {
      process.stdout.write(`OK: ${report.balancesChecked} balances match their ledger; every invariant holds.\n`);
    } else {
      process.stdout.write(`FAILED: ${report.problems.length} problem(s) in ${report.balancesChecked} balances:\n`);
      for (const p of report.problems.slice(0, 1000)) process.stdout.write(`  ${p}\n`);
      process.exitCode = 1;
    }
  });

program
  .command("backup")
  .description("Online, consistent backup of a SQLite database (PostgreSQL: use pg_dump)")
  .requiredOption("--to <path>", "destination file")
  .addOption(databaseOption())
  .action(async (opts: { to: string; database?: string }) => {
    await withDb(opts, async (db) => {
      if (!(db instanceof SqliteDatabase)) throw new Error("tally backup is for SQLite; for PostgreSQL use pg_dump (see docs/reliability.md)");
      await db.backup(opts.to);
      process.stdout.write(`Backed up to ${opts.to}\n`);
    });
  });

program
  .command("restore")
  .description("Restore a SQLite backup (the server must be stopped; a backup that does not verify is not restored)")
  .requiredOption("--from <path>", "backup file")
  .addOption(databaseOption())
  .action(async (opts: { from: string; database?: string }) => {
    const config = configFrom(opts);
    if (!config.databaseUrl.startsWith("sqlite:")) throw new Error("tally restore is for SQLite; for PostgreSQL use pg_restore/psql");
    const path = config.databaseUrl.slice("sqlite:".length);
    // The staged copy is opened (and migrated, for a backup from an older release) and verified
    // before it replaces anything.
    const report = await restoreSqliteFile(opts.from, path, (staged) => withDb({ database: `sqlite:${staged}` }, (db) => verifyLedger(db)));
    process.stdout.write(`Restored ${opts.from} to ${path}; verify OK (${report.balancesChecked} balances).\n`);
  });

program
  .command("bench")
  .description("Run the benchmark suite (same as npm run bench; --help lists its options)")
  // Every option and its value belong to bench/run.ts, which parses process.argv itself.
  .allowUnknownOption()
  .allowExcessArguments()
  .helpOption(false)
  .action(async () => {
    // The benchmark lives in the repository (bench/run.ts), not in the server: run it as
    // `npm run bench` does, passing every argument after "bench" through.
    const args = process.argv.slice(process.argv.indexOf("bench") + 1);
    const child = spawn(process.execPath, ["--import", "tsx", join(repositoryRoot(), "bench", "run.ts"), ...args], { stdio: "inherit" });
    process.exitCode = await new Promise<number>((done) => child.once("exit", (code) => done(code ?? 1)));
  });

/** The checkout this command runs from: the nearest directory above it holding bench/run.ts. */
function repositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "bench", "run.ts"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("tally bench runs from a checkout of the Tally repository (bench/run.ts not found)");
    dir = parent;
  }
  return dir;
}

program.parseAsync(process.argv).catch((error: unknown) => {
  process.stderr.write(`tally: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

import { resolve } from "node:path";
import { loadSecurityConfig, type SecurityConfig } from "./auth/config.ts";
import { paymentsConfigFromEnv, type PaymentsConfig } from "./payments/provider.ts";

/** Server configuration, validated once and frozen. */
export interface Config {
  readonly host: string;
  readonly port: number;
  readonly databaseUrl: string;
  readonly adminToken: string | undefined;
  readonly logLevel: string;
  /** SQLite durability: FULL (default) survives power loss; NORMAL survives process crashes only. */
  readonly sqliteSynchronous: "FULL" | "NORMAL" | "OFF";
  readonly sweepIntervalMs: number;
  readonly poolSize: number;
  /** PostgreSQL: batches that may run at once (TALLY_PG_LANES); unset: the store's `LANES_DEFAULT`, twice the cores within 4–16. */
  readonly pgLanes: number | undefined;
  /** Hot routes' common requests skip Fastify (TALLY_DIRECT_ROUTES, on | off, default on; see http/direct-routes.ts). */
  readonly directRoutes: boolean;
  /** Master key, rate limits, CORS (TALLY_SECRET_KEY, TALLY_RATE_LIMIT_*, TALLY_CORS_ORIGINS). */
  readonly security: SecurityConfig;
  /** TALLY_PAYMENT_PROVIDER (manual | stripe), STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET, STRIPE_API_BASE. */
  readonly payments: PaymentsConfig;
}

export interface ConfigOverrides {
  host?: string | undefined;
  port?: number | string | undefined;
  database?: string | undefined;
}

const LOG_LEVELS = new Set(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: ConfigOverrides = {}): Config {
  const port = Number(overrides.port ?? env["PORT"] ?? 8787);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`PORT must be an integer 0–65535, got ${String(overrides.port ?? env["PORT"])}`);
  const databaseUrl = overrides.database ?? env["TALLY_DATABASE_URL"] ?? `sqlite:${resolve("data", "tally.db")}`;
  if (!/^(sqlite:|postgres(ql)?:\/\/)/.test(databaseUrl)) throw new Error("TALLY_DATABASE_URL must be sqlite:PATH or postgres://…");
  const logLevel = env["LOG_LEVEL"] ?? "info";
  if (!LOG_LEVELS.has(logLevel)) throw new Error(`LOG_LEVEL must be one of ${[...LOG_LEVELS].join(", ")}`);
  const synchronous = (env["TALLY_SQLITE_SYNCHRONOUS"] ?? "FULL").toUpperCase();
  if (synchronous !== "FULL" && synchronous !== "NORMAL" && synchronous !== "OFF") throw new Error("TALLY_SQLITE_SYNCHRONOUS must be FULL, NORMAL or OFF");
  const adminToken = env["TALLY_ADMIN_TOKEN"];
  const sweepIntervalMs = Number(env["TALLY_SWEEP_INTERVAL_MS"] ?? 1000);
  if (!Number.isInteger(sweepIntervalMs) || sweepIntervalMs < 10 || sweepIntervalMs > 3_600_000) throw new Error("TALLY_SWEEP_INTERVAL_MS must be an integer 10–3600000 (milliseconds)");
  const poolSize = Number(env["TALLY_PG_POOL_SIZE"] ?? 16);
  if (!Number.isInteger(poolSize) || poolSize < 3 || poolSize > 1000) throw new Error("TALLY_PG_POOL_SIZE must be an integer 3–1000");
  const walCoalesce = (env["TALLY_SQLITE_WAL_COALESCE"] ?? "on").toLowerCase();
  if (!["on", "off", "1", "0", "true", "false"].includes(walCoalesce)) throw new Error("TALLY_SQLITE_WAL_COALESCE must be on or off");
  const pgLanes = env["TALLY_PG_LANES"] === undefined || env["TALLY_PG_LANES"] === "" ? undefined : Number(env["TALLY_PG_LANES"]);
  if (pgLanes !== undefined && (!Number.isInteger(pgLanes) || pgLanes < 1 || pgLanes > 256)) throw new Error("TALLY_PG_LANES must be an integer 1–256");
  const directRoutes = (env["TALLY_DIRECT_ROUTES"] ?? "on").toLowerCase();
  if (directRoutes !== "on" && directRoutes !== "off") throw new Error("TALLY_DIRECT_ROUTES must be on or off");
  return Object.freeze({
    host: overrides.host ?? env["HOST"] ?? "127.0.0.1",
    port,
    databaseUrl,
    adminToken: adminToken === "" ? undefined : adminToken,
    logLevel,
    sqliteSynchronous: synchronous,
    sweepIntervalMs,
    poolSize,
    pgLanes,
    directRoutes: directRoutes === "on",
    security: loadSecurityConfig(env),
    payments: paymentsConfigFromEnv(env),
  });
}

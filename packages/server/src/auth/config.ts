import { resolve } from "node:path";

/** Security settings, read from the environment once and frozen (see docs/security.md). */
export interface SecurityConfig {
  /** TALLY_SECRET_KEY: the master key that seals HMAC secrets. Unset: generated into `secretKeyFile`. */
  readonly secretKey: string | undefined;
  /** TALLY_SECRET_KEY_FILE, default `./data/secret.key`. */
  readonly secretKeyFile: string;
  /** TALLY_RATE_LIMIT_PER_SECOND: sustained requests per second per key; 0 turns rate limiting off. */
  readonly rateLimitPerSecond: number;
  /** TALLY_RATE_LIMIT_BURST: requests a key may make at once (default twice the rate). */
  readonly rateLimitBurst: number;
  /** TALLY_CORS_ORIGINS: origins allowed to call `/v1/me/…` from a browser (`*` for any). */
  readonly corsOrigins: readonly string[];
}

// High enough that a benchmark or a busy backend on one key is never throttled by default; the
// limit exists to stop a runaway client, and is tightened per deployment with the variable.
export const RATE_LIMIT_PER_SECOND_DEFAULT = 10_000;

function nonNegativeInteger(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`${name} must be a non-negative integer, got ${JSON.stringify(raw)}`);
  return n;
}

export function loadSecurityConfig(env: NodeJS.ProcessEnv = process.env): SecurityConfig {
  const secretKey = env["TALLY_SECRET_KEY"] === "" ? undefined : env["TALLY_SECRET_KEY"];
  if (secretKey !== undefined && secretKey.length < 32) {
    throw new Error("TALLY_SECRET_KEY must be at least 32 characters (e.g. `openssl rand -base64 32`)");
  }
  const rateLimitPerSecond = nonNegativeInteger(env, "TALLY_RATE_LIMIT_PER_SECOND", RATE_LIMIT_PER_SECOND_DEFAULT);
  const rateLimitBurst = nonNegativeInteger(env, "TALLY_RATE_LIMIT_BURST", rateLimitPerSecond * 2);
  if (rateLimitPerSecond > 0 && rateLimitBurst < 1) throw new Error("TALLY_RATE_LIMIT_BURST must be at least 1 when rate limiting is on");
  const corsOrigins = (env["TALLY_CORS_ORIGINS"] ?? "")
    .split(",")
    .map((o) => o.trim().replace(/\/+$/, ""))
    .filter((o) => o.length > 0);
  for (const origin of corsOrigins) {
    if (origin !== "*" && !/^https?:\/\/[^/\s]+$/.test(origin)) throw new Error(`TALLY_CORS_ORIGINS: ${JSON.stringify(origin)} is not an origin like https://app.example.com`);
  }
  return Object.freeze({
    secretKey,
    secretKeyFile: env["TALLY_SECRET_KEY_FILE"] || resolve("data", "secret.key"),
    rateLimitPerSecond,
    rateLimitBurst: rateLimitPerSecond === 0 ? 0 : rateLimitBurst,
    corsOrigins: Object.freeze(corsOrigins),
  });
}

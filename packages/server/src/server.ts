import type { FastifyInstance } from "fastify";
import type { Config } from "./config.ts";
import type { Database } from "./store/sql.ts";
import { openDatabase } from "./store/open.ts";
import { migrate } from "./store/migrate.ts";
import { systemClock, type Clock } from "./domain/clock.ts";
import { assertLimitsConsistent } from "./domain/limits.ts";
import { bootstrap, type BootstrapResult } from "./domain/apps.ts";
import { buildApp } from "./http/app.ts";
import { startSweeper } from "./jobs/sweeper.ts";
import { startRenewals } from "./jobs/renewals.ts";
import { startWebhookDelivery } from "./jobs/webhook-delivery.ts";

// Renewals and webhook deliveries need no finer timing than a second; polling faster only adds load.
const COMMERCE_JOB_INTERVAL_MS_MIN = 1000;

export interface RunningServer {
  app: FastifyInstance;
  db: Database;
  url: string;
  bootstrap: BootstrapResult;
  /** Stops accepting requests, finishes in-flight ones, stops jobs, closes the database. */
  close(): Promise<void>;
}

export interface StartOptions {
  clock?: Clock;
  /** Run background jobs (sweeper). Tests that drive time by hand turn them off. */
  jobs?: boolean;
  /** How long a live secret key is served from memory; tests that must not depend on timing raise it. */
  keyCacheTtlMs?: number;
}

/** Opens the database, migrates, bootstraps, and listens. */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  assertLimitsConsistent();
  const clock = options.clock ?? systemClock;
  const db = openDatabase(config.databaseUrl, { synchronous: config.sqliteSynchronous, poolSize: config.poolSize, lanes: config.pgLanes });
  try {
    await migrate(db);
    const boot = await bootstrap(db, clock, config.adminToken);
    const { app } = await buildApp({ db, clock, adminToken: config.adminToken, logLevel: config.logLevel, security: config.security, payments: config.payments, directRoutes: config.directRoutes, keyCacheTtlMs: options.keyCacheTtlMs });
    const sweeper = options.jobs === false ? undefined : startSweeper(db, clock, config.sweepIntervalMs, app.log);
    const renewals = options.jobs === false ? undefined : startRenewals(db, clock, Math.max(config.sweepIntervalMs, COMMERCE_JOB_INTERVAL_MS_MIN), app.log);
    const webhooks = options.jobs === false ? undefined : startWebhookDelivery(db, clock, Math.max(config.sweepIntervalMs, COMMERCE_JOB_INTERVAL_MS_MIN), app.log);
    await app.listen({ host: config.host, port: config.port });
    const address = app.server.address();
    const port = typeof address === "object" && address !== null ? address.port : config.port;
    let closing: Promise<void> | undefined;
    return {
      app,
      db,
      url: `http://${config.host.includes(":") ? `[${config.host}]` : config.host}:${port}`,
      bootstrap: boot,
      close: () =>
        (closing ??= (async () => {
          await app.close();
          await sweeper?.stop();
          await renewals?.stop();
          await webhooks?.stop();
          await db.close();
        })()),
    };
  } catch (error) {
    await db.close().catch(() => undefined);
    throw error;
  }
}

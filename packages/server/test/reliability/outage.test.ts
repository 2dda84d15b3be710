import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, connect, type Server, type Socket } from "node:net";
import { freshDatabase, PG_URL, postgresAvailable } from "../support/databases.ts";
import { PostgresDatabase } from "../../src/store/postgres/database.ts";
import { isUnavailable } from "../../src/store/sql.ts";
import { adminToken, BankWorkload, checkBank, createApp, freePort, runCli, ServerProcess, sleep, SOAK, summaryLine } from "./support.ts";

/**
 * A PostgreSQL outage under load. The machine's PostgreSQL is shared with other suites, so it is
 * not stopped: a TCP proxy stands between Tally and PostgreSQL, and an outage is the proxy
 * dropping every connection and refusing new ones, which is what the server sees when
 * PostgreSQL stops. Requests must fail fast with 503 UNAVAILABLE (never hang, never answer
 * wrongly), /readyz must say so, the server must recover by itself when PostgreSQL is back, and
 * nothing acknowledged may be lost.
 */
class TcpProxy {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly pairs = new Set<[Socket, Socket]>();
  private stalled = false;
  constructor(
    readonly port: number,
    private readonly upstream: { host: string; port: number },
  ) {}

  async up(): Promise<void> {
    this.stalled = false;
    const server = createServer((client) => {
      if (this.stalled) {
        // A partition: the connection opens, but nothing ever comes back.
        this.sockets.add(client);
        client.on("close", () => this.sockets.delete(client));
        client.on("error", () => client.destroy());
        return;
      }
      const upstream = connect(this.upstream.port, this.upstream.host);
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      client.on("close", () => this.pairs.delete(pair));
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on("close", () => this.sockets.delete(s));
        s.on("error", () => {
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((done, fail) => {
      server.once("error", fail);
      server.listen(this.port, "127.0.0.1", () => done());
    });
    this.server = server;
  }

  /** The network goes silent (packets dropped, no reset): nothing is forwarded any more, and no one is told. */
  stall(): void {
    this.stalled = true;
    for (const [a, b] of this.pairs) {
      a.unpipe(b);
      b.unpipe(a);
      a.pause();
      b.pause();
    }
  }

  /** PostgreSQL "goes away": open connections are cut, and new ones are refused. */
  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    const closed = new Promise<void>((done) => (server ? server.close(() => done()) : done()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }
}

const OUTAGES = SOAK ? 10 : 2;
const OUTAGE_MS = 2_000;

describe.skipIf(!postgresAvailable)("database outage on postgres", () => {
  let db: { url: string; cleanup: () => Promise<void> };
  let proxy: TcpProxy;
  let server: ServerProcess;
  beforeAll(async () => {
    db = await freshDatabase("postgres");
    const pgAt = new URL(PG_URL);
    proxy = new TcpProxy(await freePort(), { host: pgAt.hostname, port: Number(pgAt.port || 5432) });
    await proxy.up();
    const proxied = db.url.replace(`@${pgAt.host}/`, `@127.0.0.1:${proxy.port}/`);
    expect(proxied).not.toBe(db.url);
    server = new ServerProcess(await freePort(), proxied, adminToken(), { TALLY_SWEEP_INTERVAL_MS: "100" });
    await server.start();
  });
  afterAll(async () => {
    await server?.kill();
    await proxy?.down().catch(() => undefined);
    await db?.cleanup();
  });

  it("answers 503 UNAVAILABLE fast during the outage, recovers by itself, and loses nothing acknowledged", { timeout: 120_000 + OUTAGES * 20_000 }, async () => {
    const { secretKey } = await createApp(server.url, server.token);
    const w = new BankWorkload({ targets: () => [server.url], key: secretKey, accounts: 6, workers: 8, snapshotters: 2, timeoutMs: 20_000 });
    await w.setup();
    w.start();
    const ready: Array<{ phase: "down" | "up"; status: number; ms: number }> = [];
    const recoveryMs: number[] = [];
    const readyz = async (phase: "down" | "up") => {
      const t = performance.now();
      try {
        const res = await fetch(`${server.url}/readyz`, { signal: AbortSignal.timeout(20_000) });
        ready.push({ phase, status: res.status, ms: performance.now() - t });
        return res.status;
      } catch {
        ready.push({ phase, status: 0, ms: performance.now() - t });
        return 0;
      }
    };
    for (let i = 0; i < OUTAGES; i++) {
      await w.progress(150);
      await proxy.down();
      for (const end = Date.now() + OUTAGE_MS; Date.now() < end; ) {
        await readyz("down");
        await sleep(100);
      }
      await proxy.up();
      const back = Date.now();
      while ((await readyz("up")) !== 200) {
        if (Date.now() - back > 20_000) throw new Error(`the server did not recover within 20 s of PostgreSQL coming back (running: ${server.running}; readyz: ${JSON.stringify(ready.slice(-5))}):\n${server.output}`);
        await sleep(50);
      }
      recoveryMs.push(Date.now() - back);
    }
    await w.progress(150);
    await w.stop();
    expect(server.running).toBe(true);
    const unknown = w.ops.filter((o) => o.outcome === "unknown").length;
    await w.resolveUnknown();
    const summary = await checkBank(w, server.url);
    const verify = await runCli(["verify", "--database", db.url]);

    const unavailable = w.statusCounts.get("503 UNAVAILABLE") ?? 0;
    const slowest = Math.max(0, ...w.failureLatenciesMs, ...ready.filter((r) => r.phase === "down").map((r) => r.ms));
    console.log(
      summaryLine("outage/postgres", summary, {
        outages: `${OUTAGES}×${OUTAGE_MS} ms`,
        "503 answers": unavailable,
        "slowest failure ms": Math.round(slowest),
        "recovery ms": recoveryMs.join("/"),
        "unknown at stop": unknown,
        verify: verify.code === 0 ? "OK" : "FAILED",
      }),
    );
    const otherFailures = [...w.statusCounts].filter(([label]) => /^5/.test(label) && label !== "503 UNAVAILABLE");
    expect(otherFailures).toEqual([]);
    expect(unavailable).toBeGreaterThan(0);
    // During the outage /readyz says so; never a hang.
    expect(ready.filter((r) => r.phase === "down" && r.status !== 503)).toEqual([]);
    expect(slowest).toBeLessThan(6_000);
    expect(summary.violations).toEqual([]);
    expect(verify.code).toBe(0);
  });
});

describe.skipIf(!postgresAvailable)("silent network and slow statements on postgres", () => {
  it("fails a query on a connection that went silent within the query timeout, as UNAVAILABLE, and recovers", { timeout: 60_000 }, async () => {
    const db = await freshDatabase("postgres");
    const pgAt = new URL(PG_URL);
    const proxy = new TcpProxy(await freePort(), { host: pgAt.hostname, port: Number(pgAt.port || 5432) });
    await proxy.up();
    const pgdb = new PostgresDatabase({
      connectionString: db.url.replace(`@${pgAt.host}/`, `@127.0.0.1:${proxy.port}/`),
      poolSize: 3,
      statementTimeoutMs: 1000,
      connectTimeoutMs: 1000,
    });
    try {
      expect(await pgdb.read((q) => q.get<{ x: number }>("SELECT 1 AS x"))).toEqual({ x: 1 });
      // A statement past statement_timeout is the server's 57014: unavailable (retryable), not a 500.
      const slow = await pgdb.read((q) => q.get("SELECT pg_sleep(3)")).catch((e: unknown) => e);
      expect((slow as { code?: string }).code).toBe("57014");
      expect(isUnavailable(slow)).toBe(true);

      // Open connections that will be idle in the pool when the network goes silent.
      await Promise.all([1, 2, 3].map(() => pgdb.read((q) => q.get("SELECT pg_sleep(0.05)"))));
      proxy.stall();
      const started = performance.now();
      const outcomes = await Promise.all([
        pgdb.transaction((tx) => tx.get("SELECT 1 AS x")).catch((e: unknown) => e),
        pgdb.read((q) => q.get("SELECT 1 AS x")).catch((e: unknown) => e),
        pgdb.ping(),
      ]);
      const elapsed = performance.now() - started;
      expect(isUnavailable(outcomes[0])).toBe(true);
      expect(isUnavailable(outcomes[1])).toBe(true);
      expect(outcomes[2]).toBe(false);
      // statement timeout 1 s + 2 s margin: bounded, never a hang.
      expect(elapsed).toBeLessThan(6_000);

      await proxy.down();
      await proxy.up();
      for (let i = 0; ; i++) {
        if (await pgdb.ping()) break;
        if (i > 50) throw new Error("no recovery after the network came back");
        await sleep(100);
      }
      expect(await pgdb.transaction((tx) => tx.get<{ x: number }>("SELECT 2 AS x"))).toEqual({ x: 2 });
      console.log(`[reliability] silent-network/postgres: silent connection failed in ${Math.round(elapsed)} ms as UNAVAILABLE; statement timeout → 57014 → 503; recovered`);
    } finally {
      await pgdb.close().catch(() => undefined);
      await proxy.down().catch(() => undefined);
      await db.cleanup();
    }
  });
});

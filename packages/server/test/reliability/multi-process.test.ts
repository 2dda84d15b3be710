import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { freshDatabase, postgresAvailable } from "../support/databases.ts";
import { adminToken, BankWorkload, checkBank, createApp, freePort, runCli, ServerProcess, sleep, SOAK, summaryLine } from "./support.ts";

/**
 * Three server processes on one PostgreSQL schema under the bank workload, each running the
 * expiry sweeper every 100 ms; one is SIGKILLed and restarted mid-run. The same invariants as
 * the bank test must hold, and every expired hold must be released exactly once although three
 * sweepers (and every request that reads the account) race to release it.
 */
const OPS = SOAK ? 20_000 : 400;

describe.skipIf(!postgresAvailable)("multi-process test on postgres", () => {
  let db: { url: string; cleanup: () => Promise<void> };
  const servers: ServerProcess[] = [];
  beforeAll(async () => {
    db = await freshDatabase("postgres");
    const token = adminToken();
    for (let i = 0; i < 3; i++) servers.push(new ServerProcess(await freePort(), db.url, token, { TALLY_SWEEP_INTERVAL_MS: "100", TALLY_PG_POOL_SIZE: "6" }));
    // Started together: migrations must be applied once, whoever comes first.
    await Promise.all(servers.map((s) => s.start()));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.kill()));
    await db?.cleanup();
  });

  it("keeps every invariant with three processes, one SIGKILLed and restarted, and releases each expired hold exactly once", { timeout: SOAK ? 1_200_000 : 150_000 }, async () => {
    const { secretKey } = await createApp(servers[0]!.url, servers[0]!.token);
    const targets = () => {
      const up = servers.filter((s) => s.ready).map((s) => s.url);
      return up.length > 0 ? up : servers.map((s) => s.url);
    };
    const w = new BankWorkload({ targets, key: secretKey, accounts: 8, workers: 12, snapshotters: 3, timeoutMs: 5_000 });
    await w.setup();
    w.start();
    // Kill at a random moment after real load (counted in operations: the machine's speed varies).
    await w.progress(OPS / 2 + Math.floor((Math.random() * OPS) / 4));
    const victim = servers[Math.floor(Math.random() * servers.length)]!;
    await victim.kill("SIGKILL");
    await w.progress(50);
    await victim.start();
    await w.progress(OPS / 2);
    await w.stop();
    // Let the last short holds and lots fall due and the sweepers settle them.
    await sleep(2_600);
    const unknown = w.ops.filter((o) => o.outcome === "unknown").length;
    await w.resolveUnknown();
    const summary = await checkBank(w, servers[0]!.url);
    const verify = await runCli(["verify", "--database", db.url]);

    // Exactly-once release, lot by lot: what each lot holds is what held reservations hold on
    // it, and what it lost to expiry is what its expiry transactions say (a hold released twice,
    // or a lot written off twice, breaks one of these).
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const problems: string[] = [];
    try {
      const lots = await client.query<{ lot_id: string; held: string; expired: string }>("SELECT lot_id, held, expired FROM lots");
      const held = new Map<string, number>();
      const rsv = await client.query<{ rsv_id: string; status: string; holds: string; resolution: string | null; resolved_at: string | null }>(
        "SELECT rsv_id, status, holds, resolution, resolved_at FROM reservations",
      );
      for (const r of rsv.rows) {
        const holds = JSON.parse(r.holds) as Array<{ lotId: string; amount: number }>;
        if (r.status === "held") for (const h of holds) held.set(h.lotId, (held.get(h.lotId) ?? 0) + h.amount);
        else if (holds.length > 0) problems.push(`reservation ${r.rsv_id} is ${r.status} but still holds ${JSON.stringify(holds)}`);
        if (r.status === "expired" && (r.resolution !== "expire" || r.resolved_at === null)) problems.push(`reservation ${r.rsv_id} expired without its resolution`);
      }
      const expiries = await client.query<{ grant_id: string; s: string }>("SELECT grant_id, SUM(-amount) AS s FROM transactions WHERE type = 'expiry' GROUP BY grant_id");
      const expiredByTxn = new Map(expiries.rows.map((r) => [r.grant_id, Number(r.s)]));
      for (const l of lots.rows) {
        if (Number(l.held) !== (held.get(l.lot_id) ?? 0)) problems.push(`lot ${l.lot_id}: held ${l.held} ≠ held by reservations ${held.get(l.lot_id) ?? 0}`);
        if (Number(l.expired) !== (expiredByTxn.get(l.lot_id) ?? 0)) problems.push(`lot ${l.lot_id}: expired ${l.expired} ≠ expiry transactions ${expiredByTxn.get(l.lot_id) ?? 0}`);
      }
    } finally {
      await client.end();
    }
    const expiredHolds = summary.reservations.expired;
    console.log(summaryLine("multi-process/postgres", summary, { processes: 3, kills: 1, "unknown after kill": unknown, "expired holds released once": expiredHolds, verify: verify.code === 0 ? "OK" : "FAILED" }));
    expect(problems).toEqual([]);
    expect(summary.violations).toEqual([]);
    expect(verify.code).toBe(0);
    expect(expiredHolds).toBeGreaterThan(0);
  });
});

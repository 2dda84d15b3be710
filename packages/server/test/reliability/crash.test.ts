import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES, freshDatabase } from "../support/databases.ts";
import { adminToken, BankWorkload, checkBank, createApp, freePort, request, runCli, ServerProcess, sleep, SOAK, summaryLine } from "./support.ts";

/**
 * The server is killed with SIGKILL at random moments under the bank workload and restarted,
 * several times. Nothing it acknowledged may be lost or doubled, every unacknowledged operation
 * retried with its key must land exactly once, `tally verify` must pass, and reservations must
 * neither vanish nor come back to life after their expiry.
 */
const KILLS = SOAK ? 20 : 3;

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`crash test on ${kind}`, () => {
    let db: { url: string; cleanup: () => Promise<void> };
    let server: ServerProcess;
    beforeAll(async () => {
      db = await freshDatabase(kind);
      // FULL is the default; said explicitly because it is what this test vouches for.
      server = new ServerProcess(await freePort(), db.url, adminToken(), { TALLY_SQLITE_SYNCHRONOUS: "FULL", TALLY_SWEEP_INTERVAL_MS: "200" });
      await server.start();
    });
    afterAll(async () => {
      await server?.kill();
      await db?.cleanup();
    });

    it(`loses and doubles nothing acknowledged across ${KILLS} SIGKILLs, and retries land exactly once`, { timeout: 120_000 + KILLS * 10_000 }, async () => {
      const { secretKey } = await createApp(server.url, server.token);
      const w = new BankWorkload({ targets: () => [server.url], key: secretKey, accounts: 6, workers: 8, snapshotters: 2, timeoutMs: 5_000 });
      await w.setup();
      w.start();
      const comeBack: string[] = [];
      const restartMs: number[] = [];
      for (let i = 0; i < KILLS; i++) {
        // A random moment after some real load since the last restart.
        await w.progress(60 + Math.floor(Math.random() * 120));
        await sleep(Math.random() * 300);
        await server.kill("SIGKILL");
        // Holds seen expired before the crash must still be expired after it (and vice versa for live ones).
        const expiredBefore = w.ops.filter((o) => o.kind === "reserve" && o.outcome === "ok" && (o.reservationExpiresAtMs ?? Infinity) < Date.now());
        const t0 = Date.now();
        await server.start();
        restartMs.push(Date.now() - t0);
        for (const o of expiredBefore.slice(-50)) {
          const res = await request(server.url, secretKey, "GET", `/v1/reservations/${o.reservationId}`);
          if (res.status !== 200) comeBack.push(`${o.reservationId} vanished: ${res.status}`);
          else if (res.body["status"] === "held") comeBack.push(`${o.reservationId} is held again after its expiry`);
        }
      }
      await w.progress(60);
      await w.stop();
      const unknown = w.ops.filter((o) => o.outcome === "unknown").length;
      await w.resolveUnknown();
      const summary = await checkBank(w, server.url);
      const verify = await runCli(["verify", "--database", db.url]);
      console.log(summaryLine(`crash/${kind}`, summary, { kills: KILLS, "unknown at stop": unknown, "restart ms": restartMs.join("/"), verify: verify.code === 0 ? "OK" : "FAILED" }));
      expect(comeBack).toEqual([]);
      expect(summary.violations).toEqual([]);
      expect(verify.stdout + verify.stderr).toContain("OK:");
      expect(verify.code).toBe(0);
      expect(summary.acknowledged).toBeGreaterThan(50);
    });
  });
}

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES } from "../support/databases.ts";
import { startHarness, type Harness } from "../support/http.ts";
import { verifyLedger } from "../../src/domain/verify.ts";
import { BankWorkload, checkBank, SOAK, sleep, summaryLine } from "./support.ts";

/**
 * Jepsen's bank test, for credits: many concurrent clients grant, deduct, refund, reserve,
 * confirm, cancel and capture over a fixed set of accounts, with holds and lots expiring under
 * them, while other clients read balances. Every balance read must be sane at every moment, and
 * at the end the ledger must hold exactly the acknowledged operations and add up.
 */
const DURATION_MS = SOAK ? 60_000 : 3_000;

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`bank test on ${kind}`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness(kind);
    });
    afterAll(async () => h?.close());

    it("keeps every balance sane while clients race, and ends with exactly the acknowledged operations", { timeout: DURATION_MS + 90_000 }, async () => {
      const w = new BankWorkload({ targets: () => [h.url], key: h.key, accounts: 8, workers: 16, snapshotters: 4 });
      await w.setup();
      w.start();
      // Audit the ledger while the load runs, too: the invariants hold at every commit, not just at rest.
      const audits: string[] = [];
      const auditing = (async () => {
        for (let end = Date.now() + DURATION_MS; Date.now() < end; ) {
          const report = await verifyLedger(h.server.server.db);
          audits.push(...report.problems);
          await sleep(250);
        }
      })();
      await auditing;
      // A loaded machine may do little in the time: go on until there is enough to judge.
      await w.progress(Math.max(0, 200 - w.acknowledged), 20_000);
      await w.stop();
      const retried = await w.resolveUnknown();
      const summary = await checkBank(w, h.url);
      const report = await verifyLedger(h.server.server.db);
      console.log(summaryLine(`bank/${kind}`, summary, { snapshots: w.snapshots, "in-flight audits failed": audits.length, unknownRetried: retried }));
      expect(audits).toEqual([]);
      expect(report.problems).toEqual([]);
      expect(summary.violations).toEqual([]);
      expect(summary.acknowledged).toBeGreaterThan(100);
      expect(w.snapshots).toBeGreaterThan(10);
    });
  });
}

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`retries on ${kind}`, () => {
    let h: Harness;
    beforeAll(async () => {
      h = await startHarness(kind);
    });
    afterAll(async () => h?.close());

    it("replays a retried grant whose short-lived lot has expired since, instead of refusing it (the client must learn it happened)", async () => {
      const body = { externalId: "retry-1", amount: 10, expiresAt: new Date(Date.now() + 1000).toISOString(), idempotencyKey: "grant-retry-1" };
      const first = await h.api("POST", "/v1/credits/grant", body);
      expect(first.status).toBe(201);
      await sleep(1100);
      const retry = await h.api("POST", "/v1/credits/grant", body);
      expect(retry.status).toBe(201);
      expect(retry.body.alreadyProcessed).toBe(true);
      expect(retry.body.transaction.id).toBe(first.body.transaction.id);
    });
  });
}

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freshDatabase } from "../support/databases.ts";
import { openDatabase } from "../../src/store/open.ts";
import { verifyLedger } from "../../src/domain/verify.ts";
import { adminToken, BankWorkload, createApp, freePort, runCli, ServerProcess, summaryLine, checkBank } from "./support.ts";

/**
 * `tally backup` copies a live SQLite database while the server runs under load; `tally restore`
 * puts the copy in place of a database and verifies it. The copy must be one consistent moment:
 * every invariant holds, everything acknowledged before the backup began is in it, and nothing
 * that started after it ended is.
 */
describe("backup and restore on sqlite", () => {
  let db: { url: string; cleanup: () => Promise<void> };
  let server: ServerProcess;
  const dir = mkdtempSync(join(tmpdir(), "tally-backup-"));
  beforeAll(async () => {
    db = await freshDatabase("sqlite");
    server = new ServerProcess(await freePort(), db.url, adminToken(), { TALLY_SWEEP_INTERVAL_MS: "200" });
    await server.start();
  });
  afterAll(async () => {
    await server?.kill();
    await db?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("backs up a live database under load into a consistent copy that restores and verifies", { timeout: 120_000 }, async () => {
    const { secretKey } = await createApp(server.url, server.token);
    const w = new BankWorkload({ targets: () => [server.url], key: secretKey, accounts: 6, workers: 8, snapshotters: 1 });
    await w.setup();
    w.start();
    await w.progress(300);

    const backupFile = join(dir, "tally-backup.db");
    const began = Date.now();
    const ackedBefore = w.ops.filter((o) => o.outcome === "ok" && (o.endedAtMs ?? Infinity) < began);
    const backup = await runCli(["backup", "--to", backupFile, "--database", db.url]);
    const ended = Date.now();
    await w.progress(100);
    await w.stop();
    await w.resolveUnknown();
    expect(backup.stderr).toBe("");
    expect(backup.code).toBe(0);

    const restoredPath = join(dir, "restored", "tally.db");
    const restore = await runCli(["restore", "--from", backupFile, "--database", `sqlite:${restoredPath}`]);
    expect(restore.stdout + restore.stderr).toContain("verify OK");
    expect(restore.code).toBe(0);

    const restored = openDatabase(`sqlite:${restoredPath}`);
    try {
      const report = await verifyLedger(restored);
      expect(report.problems).toEqual([]);
      const txns = await restored.read((q) => q.all<{ txn_id: string; idempotency_key: string | null }>("SELECT txn_id, idempotency_key FROM transactions"));
      const rsvs = await restored.read((q) => q.all<{ rsv_id: string }>("SELECT rsv_id FROM reservations"));
      const txnIds = new Set(txns.map((t) => t.txn_id));
      const rsvIds = new Set(rsvs.map((r) => r.rsv_id));
      const missing = ackedBefore.filter((o) => (o.txnId !== undefined && !txnIds.has(o.txnId)) || (o.kind === "reserve" && !rsvIds.has(o.reservationId ?? "")));
      expect(missing.map((o) => o.key)).toEqual([]);
      const startedAfter = new Set(w.ops.filter((o) => o.startedAtMs > ended).map((o) => o.key));
      const fromTheFuture = txns.filter((t) => t.idempotency_key !== null && startedAfter.has(t.idempotency_key));
      expect(fromTheFuture).toEqual([]);
      // The live database is still whole too.
      const summary = await checkBank(w, server.url);
      expect(summary.violations).toEqual([]);
      console.log(
        summaryLine("backup/sqlite", summary, {
          "acknowledged before backup": ackedBefore.length,
          "transactions in backup": txns.length,
          "backup ms": ended - began,
          "backup bytes": statSync(backupFile).size,
          "restore verify": "OK",
        }),
      );
    } finally {
      await restored.close();
    }
  });
});

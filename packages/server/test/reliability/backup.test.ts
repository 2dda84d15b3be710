import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { copyFileSync, existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import BetterSqlite3 from "better-sqlite3";
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
  /** Transactions in the database at `url`, and whether its ledger verifies. */
  async function ledgerOf(url: string): Promise<{ transactions: number; problems: string[] }> {
    const opened = openDatabase(url);
    try {
      const rows = await opened.read((q) => q.all<{ n: number }>("SELECT COUNT(*) AS n FROM transactions"));
      return { transactions: Number(rows[0]!.n), problems: (await verifyLedger(opened)).problems };
    } finally {
      await opened.close();
    }
  }

  it("refuses to restore over a database a running server has open, and leaves it as it was", { timeout: 60_000 }, async () => {
    const { secretKey } = await createApp(server.url, server.token);
    const w = new BankWorkload({ targets: () => [server.url], key: secretKey, accounts: 2, workers: 2, snapshotters: 0 });
    await w.setup();
    const backupFile = join(dir, "refused-backup.db");
    expect((await runCli(["backup", "--to", backupFile, "--database", db.url])).code).toBe(0);
    const before = await ledgerOf(db.url);

    const restore = await runCli(["restore", "--from", backupFile, "--database", db.url]);
    expect(restore.code).toBe(1);
    expect(restore.stderr).toContain("open in another process");
    expect(restore.stderr).toContain("Nothing was changed");

    // The server never noticed: it still answers, its ledger adds up, nothing was lost.
    expect(server.running).toBe(true);
    const health = await fetch(`${server.url}/v1/accounts?limit=1`, { headers: { authorization: `Bearer ${secretKey}` } });
    expect(health.status).toBe(200);
    const after = await ledgerOf(db.url);
    expect(after.problems).toEqual([]);
    expect(after.transactions).toBeGreaterThanOrEqual(before.transactions);
    const dbPath = db.url.slice("sqlite:".length);
    expect(existsSync(`${dbPath}.restoring`)).toBe(false);
  });

  it("does not replace a database with a backup that does not open or does not verify", { timeout: 60_000 }, async () => {
    const { secretKey } = await createApp(server.url, server.token);
    await new BankWorkload({ targets: () => [server.url], key: secretKey, accounts: 2, workers: 2, snapshotters: 0 }).setup();
    const goodBackup = join(dir, "good-backup.db");
    expect((await runCli(["backup", "--to", goodBackup, "--database", db.url])).code).toBe(0);
    const targetDir = join(dir, "target");
    const target = join(targetDir, "tally.db");
    const first = await runCli(["restore", "--from", goodBackup, "--database", `sqlite:${target}`]);
    expect(first.stdout).toContain("verify OK");
    const before = await ledgerOf(`sqlite:${target}`);
    expect(before.problems).toEqual([]);
    expect(before.transactions).toBeGreaterThan(0);

    const garbage = join(dir, "garbage.db");
    writeFileSync(garbage, "this is not a database, whatever its name says\n".repeat(200));
    const notADatabase = await runCli(["restore", "--from", garbage, "--database", `sqlite:${target}`]);
    expect(notADatabase.code).toBe(1);
    expect(notADatabase.stderr).toContain("does not open as a Tally database");

    // A backup whose ledger does not add up: one balance changed behind the ledger's back.
    const tampered = join(dir, "tampered.db");
    copyFileSync(goodBackup, tampered);
    const raw = new BetterSqlite3(tampered);
    expect(raw.prepare("UPDATE balances SET balance = balance + 1 WHERE rowid = (SELECT MIN(rowid) FROM balances)").run().changes).toBe(1);
    raw.close();
    const notVerified = await runCli(["restore", "--from", tampered, "--database", `sqlite:${target}`]);
    expect(notVerified.code).toBe(1);
    expect(notVerified.stderr).toContain("does not verify; nothing was changed");

    const missing = await runCli(["restore", "--from", join(dir, "no-such-backup.db"), "--database", `sqlite:${target}`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("no backup file");

    // The target is the good restore still, and no staged copy was left beside it.
    const after = await ledgerOf(`sqlite:${target}`);
    expect(after).toEqual(before);
    expect(readdirSync(targetDir).filter((f) => f.includes("restoring"))).toEqual([]);
  });
});

import BetterSqlite3 from "better-sqlite3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASES, freshDatabase } from "../support/databases.ts";
import { openDatabase } from "../../src/store/open.ts";
import { migrate } from "../../src/store/migrate.ts";
import { createApp } from "../../src/domain/apps.ts";
import { deduct, grant } from "../../src/domain/credits.ts";
import { verifyLedger } from "../../src/domain/verify.ts";
import { systemClock } from "../../src/domain/clock.ts";
import type { Database } from "../../src/store/sql.ts";

for (const { kind, available } of DATABASES) {
  describe.skipIf(!available)(`tally verify on ${kind}`, () => {
    let db: Database;
    let cleanup: () => Promise<void>;
    let appId: string;
    beforeAll(async () => {
      const fresh = await freshDatabase(kind);
      cleanup = fresh.cleanup;
      db = openDatabase(fresh.url);
      await migrate(db);
      appId = (await createApp(db, systemClock, "verify")).app.id;
    });
    afterAll(async () => {
      await db.close();
      await cleanup();
    });

    it("passes a ledger whose lots ran out and whose lots still have credits, with every live flag matching", async () => {
      const scope = { db, clock: systemClock, appId };
      await grant(scope, { externalId: "v1", amount: 10, unit: "credits" });
      await grant(scope, { externalId: "v1", amount: 5, unit: "credits", priority: -1 });
      await deduct(scope, { externalId: "v1", amount: 7 }); // empties the priority lot, leaves 8 in the other
      const report = await verifyLedger(db);
      expect(report.problems).toEqual([]);
      const flags = await db.read((q) => q.all<{ remaining: number; live: number }>("SELECT remaining, live FROM lots WHERE app_id = ? ORDER BY remaining", [appId]));
      expect(flags.map((f) => [Number(f.remaining), Number(f.live)])).toEqual([[0, 0], [8, 1]]);
    });

    it("reports a lot whose live flag disagrees with its remaining credits", async () => {
      const scope = { db, clock: systemClock, appId };
      const g = await grant(scope, { externalId: "v2", amount: 3, unit: "credits" });
      await db.transaction((tx) => tx.run("UPDATE lots SET live = 0 WHERE app_id = ? AND lot_id = ?", [appId, g.grant.id]));
      const report = await verifyLedger(db);
      expect(report.ok).toBe(false);
      expect(report.problems).toEqual([`${appId} lot ${g.grant.id}: live flag 0 but remaining 3`]);
    });
  });
}

describe("tally verify on a live SQLite database", () => {
  it("takes no write lock: it completes while another process's connection holds the write lock", async () => {
    const fresh = await freshDatabase("sqlite");
    const db = openDatabase(fresh.url);
    await migrate(db);
    const appId = (await createApp(db, systemClock, "verify-live")).app.id;
    await grant({ db, clock: systemClock, appId }, { externalId: "live", amount: 10, unit: "credits" });
    // A second connection stands in for a running server in the middle of a batch.
    const writer = new BetterSqlite3(fresh.url.slice("sqlite:".length));
    writer.prepare("BEGIN IMMEDIATE").run();
    try {
      const started = Date.now();
      const report = await verifyLedger(db);
      expect(report.problems).toEqual([]);
      expect(report.balancesChecked).toBe(1);
      // A transaction would have waited out the busy timeout (5 s) and failed with SQLITE_BUSY.
      expect(Date.now() - started).toBeLessThan(2000);
    } finally {
      writer.prepare("ROLLBACK").run();
      writer.close();
      await db.close();
      await fresh.cleanup();
    }
  });
});

import { openDatabase } from "../packages/server/src/store/open.ts";
import { migrate } from "../packages/server/src/store/migrate.ts";
import { createApp } from "../packages/server/src/domain/apps.ts";
import { grant } from "../packages/server/src/domain/credits.ts";
import { systemClock } from "../packages/server/src/domain/clock.ts";

export interface Seeded {
  appId: string;
  secretKey: string;
  accounts: string[];
  hotAccount: string;
}

/**
 * One application and `count` accounts, each granted plenty of credits, written before the server
 * starts by the server's own ledger code (the same path `tally grant` takes), so the data is
 * exactly what the API would have made, in seconds rather than minutes of HTTP round trips.
 */
export async function seed(databaseUrl: string, count: number, log: (line: string) => void): Promise<Seeded> {
  const started = Date.now();
  const db = openDatabase(databaseUrl, { synchronous: "FULL", poolSize: 16 });
  try {
    await migrate(db);
    const { app, secretKey } = await createApp(db, systemClock, "bench");
    const scope = { db, clock: systemClock, appId: app.id };
    const grantOne = async (externalId: string, amount: number): Promise<string> => {
      const r = await grant(scope, { externalId, amount, unit: "credits", source: "purchase", idempotencyKey: `seed-${externalId}` });
      return r.transaction.accountId;
    };
    const accounts = new Array<string>(count);
    let next = 0;
    // Many in flight at once, so the database's group commit writes them in large batches.
    await Promise.all(
      Array.from({ length: 256 }, async () => {
        while (next < count) {
          const i = next++;
          accounts[i] = await grantOne(`bench-${i}`, 1_000_000_000);
        }
      }),
    );
    const hotAccount = await grantOne("bench-hot", 1_000_000_000_000);
    log(`  seeded ${count.toLocaleString("en-US")} accounts + 1 hot account in ${((Date.now() - started) / 1000).toFixed(1)}s`);
    return { appId: app.id, secretKey, accounts, hotAccount };
  } finally {
    await db.close();
  }
}

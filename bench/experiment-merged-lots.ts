import { copyFileSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { seed } from "./seed.ts";
import { ensureWalCoalescing } from "../packages/server/src/store/sqlite/wal-coalesce.ts";
import { INSERT_TRANSACTION_SQL, TRANSACTION_COLUMNS } from "../packages/server/src/store/repo/transactions.ts";
import { LOT_COLUMNS } from "../packages/server/src/store/repo/lots.ts";
import { BALANCE_LOCK_COLUMNS, SAVE_BALANCE_SQL } from "../packages/server/src/store/repo/balances.ts";
import { StatementCache } from "../packages/server/src/store/sqlite/statements.ts";
import { SQLITE_DIALECT } from "../packages/server/src/store/sqlite/database.ts";
import type { SqlValue } from "../packages/server/src/store/sql.ts";

/*
 * An experiment, not part of `npm run bench` (session 20; docs/performance.md, "A balance and its
 * lots in one row"). What would a deduct cost SQLite if an account's live lots were kept in its
 * balance row (one row read, one row written) instead of in the `lots` table (a second read and
 * a second row written, on a second page)? The ledger's own statements, run through the server's
 * own statement cache (raw rows, objects built by its row builders) on one thread, in durable
 * commits of 64 deducts, on the real schema and seed:
 *
 *   lots     what a deduct runs today: the key lookup, the balance row, the live lots, the lot's
 *            UPDATE, the balance's UPDATE, the transaction's INSERT
 *   merged   the same, with the lots read from and written back into a JSON column of the
 *            balance row (no lots statement at all)
 *   merged-no-key   merged, and no key lookup before the INSERT (as if the lookup were folded
 *            into it: the unique index still refuses a duplicate)
 *
 *   node --import tsx bench/experiment-merged-lots.ts [deducts per round] [rounds]
 *       alternates the three, round by round: CPU (user + system) per deduct, the inline
 *       checkpoint's CPU per deduct (every 1,024 deducts), WAL frames per deduct
 *   node --import tsx bench/experiment-merged-lots.ts prepare DIR
 *   node --import tsx bench/experiment-merged-lots.ts run DIR VARIANT DEDUCTS
 *       for counting instructions, which repeat far better than CPU time: run each variant under
 *       `valgrind --tool=callgrind --separate-threads=yes` at two lengths (1,024 and 9,216
 *       deducts), each on a fresh copy of DIR, and divide the main thread's difference by the
 *       difference in deducts. No checkpoint runs (the server runs them on another thread); the
 *       WAL's frames are counted from its size
 */

type Variant = "lots" | "merged" | "merged-no-key";
const VARIANTS: readonly Variant[] = ["lots", "merged", "merged-no-key"];
const BATCH_DEDUCTS = 64;
const CHECKPOINT_EVERY_DEDUCTS = 1024;
const UNIT = "credits";
const WAL_FRAME_HEADER_BYTES = 24;

interface Seeded {
  appId: string;
  accounts: string[];
}

/** The real schema and seed in `dir/lots.db`, and a copy with the live lots moved into `balances.lots_json`. */
async function prepare(dir: string): Promise<Seeded> {
  /** Every page into the database file and an empty WAL, so that a copy of the file is whole. */
  const closeWithEmptyWal = (db: BetterSqlite3.Database): void => {
    db.pragma("wal_checkpoint(TRUNCATE)");
    db.close();
  };
  const lotsPath = join(dir, "lots.db");
  const { appId, accounts } = await seed(`sqlite:${lotsPath}`, 10_000, () => {});
  closeWithEmptyWal(new BetterSqlite3(lotsPath));
  const mergedPath = join(dir, "merged.db");
  copyFileSync(lotsPath, mergedPath);
  const db = new BetterSqlite3(mergedPath);
  const fields = LOT_COLUMNS.split(", ").map((column) => `'${column}', l.${column}`).join(", ");
  db.exec(`ALTER TABLE balances ADD COLUMN lots_json TEXT;
    UPDATE balances SET lots_json = (SELECT json_group_array(json_object(${fields})) FROM lots l
      WHERE l.app_id = balances.app_id AND l.account_id = balances.account_id AND l.unit = balances.unit AND l.live = 1)`);
  closeWithEmptyWal(db);
  copyFileSync(mergedPath, join(dir, "merged-no-key.db"));
  const seeded: Seeded = { appId, accounts };
  writeFileSync(join(dir, "seed.json"), JSON.stringify(seeded));
  return seeded;
}

interface Round {
  cpuUsPerDeduct: number;
  checkpointCpuUsPerDeduct: number;
  walFramesPerDeduct: number;
}

function runner(dir: string, variant: Variant, seeded: Seeded) {
  const db = new BetterSqlite3(join(dir, `${variant}.db`));
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  db.pragma("cache_size = -8192");
  db.pragma("wal_autocheckpoint = 0");
  const pageBytes = db.pragma("page_size", { simple: true }) as number;
  const merged = variant !== "lots";
  const sql = new StatementCache(db, SQLITE_DIALECT).sql;
  const byKey = `SELECT ${TRANSACTION_COLUMNS} FROM transactions WHERE app_id = ? AND idempotency_key = ?`;
  const lock = `SELECT ${BALANCE_LOCK_COLUMNS}${merged ? ", lots_json" : ""} FROM balances WHERE app_id = ? AND account_id = ? AND unit = ?`;
  const liveLots = `SELECT ${LOT_COLUMNS} FROM lots WHERE app_id = ? AND account_id = ? AND unit = ? AND live = 1`;
  const saveLot = "UPDATE lots SET remaining = ?, held = ?, consumed = ?, expired = ? WHERE app_id = ? AND lot_id = ?";
  const saveBalance = merged
    ? "UPDATE balances SET balance = ?, reserved = ?, next_due_at = ?, updated_at = ?, lots_json = ? WHERE app_id = ? AND account_id = ? AND unit = ?"
    : SAVE_BALANCE_SQL;
  const { appId, accounts } = seeded;
  let sequence = 0;
  type Row = Record<string, SqlValue>;

  const deductOne = async (): Promise<void> => {
    const accountId = accounts[Math.floor(Math.random() * accounts.length)]!;
    const key = `k-${sequence++}-${Math.random().toString(36).slice(2)}`;
    if (variant !== "merged-no-key" && (await sql.get(byKey, [appId, key])) !== undefined) throw new Error("a fresh key was taken");
    const row = (await sql.get<Row>(lock, [appId, accountId, UNIT]))!;
    const nowMs = Date.now();
    const lots = merged ? (JSON.parse(row["lots_json"] as string) as Row[]) : await sql.all<Row>(liveLots, [appId, accountId, UNIT]);
    const lot = lots[0]!;
    lot["remaining"] = Number(lot["remaining"]) - 1;
    lot["consumed"] = Number(lot["consumed"]) + 1;
    const balance = Number(row["balance"]) - 1;
    if (merged) {
      await sql.run(saveBalance, [balance, row["reserved"]!, row["next_due_at"]!, nowMs, JSON.stringify(lots), appId, accountId, UNIT]);
    } else {
      await sql.run(saveLot, [lot["remaining"]!, lot["held"]!, lot["consumed"]!, lot["expired"]!, appId, lot["lot_id"]!]);
      await sql.run(saveBalance, [balance, row["reserved"]!, row["next_due_at"]!, nowMs, appId, accountId, UNIT]);
    }
    const txnId = `txn_${nowMs.toString(36)}${sequence.toString(36).padStart(10, "0")}`;
    const allocations = JSON.stringify([{ lotId: lot["lot_id"], amount: 1 }]);
    await sql.run(INSERT_TRANSACTION_SQL, [appId, txnId, accountId, UNIT, "deduct", -1, balance, key, null, "bench", null, "{}", null, null, null, allocations, nowMs]);
  };

  return {
    /** With `checkpoints` false the WAL only grows, and its frames are counted from its size. */
    async round(deducts: number, checkpoints = true): Promise<Round> {
      let cpuUs = 0;
      let checkpointUs = 0;
      let frames = 0;
      const chunks = Math.ceil(deducts / CHECKPOINT_EVERY_DEDUCTS);
      for (let c = 0; c < chunks; c++) {
        const cpu = process.cpuUsage();
        for (let b = 0; b < CHECKPOINT_EVERY_DEDUCTS; b += BATCH_DEDUCTS) {
          await sql.run("BEGIN IMMEDIATE");
          for (let i = 0; i < BATCH_DEDUCTS; i++) await deductOne();
          await sql.run("COMMIT");
        }
        const used = process.cpuUsage(cpu);
        cpuUs += used.user + used.system;
        if (!checkpoints) continue;
        // With nobody reading, a complete checkpoint lets the next commit start the WAL over,
        // so its frame count is what the last chunk wrote.
        const before = process.cpuUsage();
        const [result] = db.pragma("wal_checkpoint(PASSIVE)") as Array<{ log: number }>;
        const spent = process.cpuUsage(before);
        checkpointUs += spent.user + spent.system;
        frames += result!.log;
      }
      if (!checkpoints) frames = statSync(join(dir, `${variant}.db-wal`)).size / (WAL_FRAME_HEADER_BYTES + pageBytes);
      const total = chunks * CHECKPOINT_EVERY_DEDUCTS;
      return { cpuUsPerDeduct: cpuUs / total, checkpointCpuUsPerDeduct: checkpointUs / total, walFramesPerDeduct: frames / total };
    },
    close: () => db.close(),
  };
}

function describe(variant: Variant, r: Round): string {
  return `${variant.padEnd(14)} ${r.cpuUsPerDeduct.toFixed(1).padStart(6)} µs CPU per deduct, checkpoint ${r.checkpointCpuUsPerDeduct.toFixed(1).padStart(5)} µs, ${r.walFramesPerDeduct.toFixed(2)} WAL frames per deduct`;
}

if (ensureWalCoalescing().active !== true) console.log("(the WAL-coalescing VFS is not built: SQLite writes frame by frame)");
const [mode, dirArg, variantArg, deductsArg] = process.argv.slice(2);
if (mode === "prepare") {
  await prepare(dirArg!);
} else if (mode === "run") {
  if (!VARIANTS.includes(variantArg as Variant)) throw new Error(`variant must be one of ${VARIANTS.join(", ")}`);
  const seeded = JSON.parse(readFileSync(join(dirArg!, "seed.json"), "utf8")) as Seeded;
  const r = runner(dirArg!, variantArg as Variant, seeded);
  const deducts = Number(deductsArg);
  if (deducts > 0) console.log(describe(variantArg as Variant, await r.round(deducts, false)));
  r.close();
} else {
  const deducts = Number(mode ?? 10_240);
  const rounds = Number(dirArg ?? 5);
  const dir = mkdtempSync(join(tmpdir(), "tally-merged-lots-"));
  try {
    const seeded = await prepare(dir);
    const runners = VARIANTS.map((v) => [v, runner(dir, v, seeded)] as const);
    for (const [, r] of runners) await r.round(deducts); // warm-up
    for (let round = 1; round <= rounds; round++) {
      for (const [v, r] of runners) console.log(`round ${round}  ${describe(v, await r.round(deducts))}`);
    }
    for (const [, r] of runners) r.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

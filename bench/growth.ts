import BetterSqlite3 from "better-sqlite3";
import { randomBytes } from "node:crypto";
import { closeSync, fsyncSync, openSync } from "node:fs";

/**
 * W8's ledger history: `rows` transaction rows written straight into a stopped server's SQLite
 * file, so the growth workloads run against a ledger of that size without first spending hours
 * making it through the API.
 *
 * The history is what a busy ledger accumulates, spread over the accounts and over the last 90
 * days: groups of one 9-credit purchase followed by the nine 1-credit deducts that burn it. So
 *  - every lot's parts add up (amount 9 = consumed 9, nothing remaining: no live lot is added, so
 *    deducts still see only each account's real lots);
 *  - each account's Σ transactions and Σ lot credits are unchanged, and so is its balance row;
 * `tally verify` still passes, and the rows are real ledger rows in every table and index.
 *
 * The rows are generated inside SQLite (a recursive CTE per chunk) rather than bound one by one
 * from JavaScript: ten million rows then take about a minute instead of several.
 */
export interface GrowthResult {
  transactions: number;
  lots: number;
  seconds: number;
  fileBytes: number;
}

/** Rows per group: one grant, then deducts that burn it exactly. */
const GROUP = 10;
const CHUNK_GROUPS = 100_000;

const CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** The 10-character ULID time prefix of `ms`. */
function ulidTime(ms: number): string {
  let out = "";
  let t = ms;
  for (let i = 0; i < 10; i++) {
    out = CROCKFORD[t % 32]! + out;
    t = Math.floor(t / 32);
  }
  return out;
}

export function seedGrowth(path: string, appId: string, accountIds: readonly string[], rows: number): GrowthResult {
  const started = Date.now();
  const db = new BetterSqlite3(path);
  try {
    // The server is stopped and nothing else has the file open: trade durability for speed for
    // this one bulk load, then leave the file in the WAL mode the server uses.
    db.pragma("journal_mode = DELETE");
    db.pragma("journal_mode = OFF");
    db.pragma("locking_mode = EXCLUSIVE");
    db.pragma("synchronous = OFF");
    db.pragma("cache_size = -1048576");
    db.pragma("temp_store = MEMORY");

    db.exec("CREATE TEMP TABLE bench_accounts (i INTEGER PRIMARY KEY, account_id TEXT NOT NULL, balance INTEGER NOT NULL)");
    const balanceOf = db.prepare("SELECT balance FROM balances WHERE app_id = ? AND account_id = ? AND unit = 'credits'");
    const addAccount = db.prepare("INSERT INTO bench_accounts (i, account_id, balance) VALUES (?, ?, ?)");
    db.transaction(() => {
      accountIds.forEach((id, i) => addAccount.run(i, id, Number((balanceOf.get(appId, id) as { balance: number } | undefined)?.balance ?? 0)));
    })();

    const groups = Math.floor(rows / GROUP);
    const now = Date.now();
    const from = now - 90 * 86_400_000;
    const step = Math.max(GROUP, Math.floor((now - 3_600_000 - from) / Math.max(1, groups)));
    // Ids are ULID-shaped: the time part is the start of the history, then a per-seeding tag
    // (hex is valid Crockford base32) and a serial in time order. So history sorts before today's
    // rows and in its own time order, as real history would, and seeding twice never collides.
    const tag = randomBytes(3).toString("hex").toUpperCase();
    const prefix = `${ulidTime(from)}${tag}`;
    const txnId = (serial: string): string => `'txn_${prefix}' || printf('%010d', ${serial})`;
    const lotId = `'grt_${prefix}' || printf('%010d', g)`;

    const insertLots = db.prepare(`
      WITH RECURSIVE s(g) AS (SELECT @first UNION ALL SELECT g + 1 FROM s WHERE g + 1 < @last)
      INSERT INTO lots (app_id, lot_id, account_id, unit, amount, remaining, held, consumed, expired, priority, expires_at, source,
                        reference, description, metadata, transaction_id, created_at, live)
      SELECT @app, ${lotId}, a.account_id, 'credits', ${GROUP - 1}, 0, 0, ${GROUP - 1}, 0, 0, NULL,
             'purchase', 'hist-order-' || g, NULL, '{}',
             ${txnId(`g * ${GROUP}`)},
             @from + g * @step, 0
      FROM s JOIN bench_accounts a ON a.i = s.g % @accounts`);

    const insertTransactions = db.prepare(`
      WITH RECURSIVE s(k) AS (SELECT @first * ${GROUP} UNION ALL SELECT k + 1 FROM s WHERE k + 1 < @last * ${GROUP}),
      r AS (SELECT k, k / ${GROUP} AS g, k % ${GROUP} AS j FROM s),
      v AS (SELECT r.*, a.account_id, a.balance, @from + g * @step + j AS t,
                   ${lotId} AS lot
            FROM r JOIN bench_accounts a ON a.i = r.g % @accounts)
      INSERT INTO transactions (app_id, txn_id, account_id, unit, type, amount, balance_after, idempotency_key, reference, operation,
                                description, metadata, reservation_id, refund_of, grant_id, allocations, created_at)
      SELECT @app, ${txnId("k")}, account_id, 'credits',
             CASE WHEN j = 0 THEN 'grant' ELSE 'deduct' END,
             CASE WHEN j = 0 THEN ${GROUP - 1} ELSE -1 END,
             balance + ${GROUP - 1} - j,
             CASE WHEN j = 0 THEN NULL ELSE 'hist-${tag}-' || printf('%010d', k) END,
             NULL,
             CASE WHEN j = 0 THEN NULL ELSE 'bench.history' END,
             NULL, '{}', NULL, NULL,
             CASE WHEN j = 0 THEN lot ELSE NULL END,
             '[{"grantId":"' || lot || '","amount":' || CASE WHEN j = 0 THEN ${GROUP - 1} ELSE 1 END || ',"source":"purchase","expiresAtMs":null}]',
             t
      FROM v`);

    for (let first = 0; first < groups; first += CHUNK_GROUPS) {
      // BigInt binds as INTEGER (a plain number binds as REAL, and k / 10 would not truncate).
      const params = { app: appId, first: BigInt(first), last: BigInt(Math.min(groups, first + CHUNK_GROUPS)), from: BigInt(from), step: BigInt(step), accounts: BigInt(accountIds.length) };
      db.transaction(() => {
        insertLots.run(params);
        insertTransactions.run(params);
      })();
    }
    db.exec("DROP TABLE bench_accounts");
    db.pragma("locking_mode = NORMAL");
    db.pragma("journal_mode = WAL");
    const pages = Number(db.pragma("page_count", { simple: true })) * Number(db.pragma("page_size", { simple: true }));
    db.close();
    // The load ran with synchronous=OFF: gigabytes may still be waiting in the OS page cache.
    // Write them out now, or the kernel's writeback would compete with the measured run's fsyncs.
    const fd = openSync(path, "r+");
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    return { transactions: groups * GROUP, lots: groups, seconds: (Date.now() - started) / 1000, fileBytes: pages };
  } finally {
    if (db.open) db.close();
  }
}

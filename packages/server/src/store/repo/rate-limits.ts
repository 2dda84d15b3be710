import type { Sql } from "../sql.ts";

/**
 * Adds `count` requests to a bucket's fixed window and returns the window's total, atomically
 * (one statement, so concurrent processes never lose an increment).
 */
export async function addToWindow(tx: Sql, bucket: string, windowStartMs: number, count: number): Promise<number> {
  const row = await tx.get<{ count: number | string }>(
    `INSERT INTO rate_limit_windows (bucket, window_start, count) VALUES (?, ?, ?)
     ON CONFLICT (bucket, window_start) DO UPDATE SET count = rate_limit_windows.count + excluded.count
     RETURNING count`,
    [bucket, windowStartMs, count],
  );
  return Number(row?.count ?? count);
}

export async function deleteWindowsBefore(tx: Sql, beforeMs: number): Promise<number> {
  return (await tx.run("DELETE FROM rate_limit_windows WHERE window_start < ?", [beforeMs])).changes;
}

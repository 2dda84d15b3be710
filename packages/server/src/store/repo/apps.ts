import type { Sql } from "../sql.ts";
import type { AppRecord, EndUserAuthConfig } from "../records.ts";
import { parseJson } from "./json.ts";

interface AppRow {
  app_id: string;
  name: string;
  end_user_auth: string | null;
  created_at: number;
  updated_at: number;
}

const toApp = (r: AppRow): AppRecord => ({
  id: r.app_id,
  name: r.name,
  endUserAuth: parseJson<EndUserAuthConfig | null>(r.end_user_auth, null),
  createdAtMs: r.created_at,
  updatedAtMs: r.updated_at,
});

export async function insertApp(tx: Sql, app: AppRecord): Promise<void> {
  await tx.run("INSERT INTO apps (app_id, name, end_user_auth, created_at, updated_at) VALUES (?, ?, ?, ?, ?)", [
    app.id,
    app.name,
    app.endUserAuth === null ? null : JSON.stringify(app.endUserAuth),
    app.createdAtMs,
    app.updatedAtMs,
  ]);
}

export async function getApp(q: Sql, appId: string): Promise<AppRecord | undefined> {
  const row = await q.get<AppRow>("SELECT * FROM apps WHERE app_id = ?", [appId]);
  return row === undefined ? undefined : toApp(row);
}

export async function updateApp(tx: Sql, app: AppRecord): Promise<void> {
  await tx.run("UPDATE apps SET name = ?, end_user_auth = ?, updated_at = ? WHERE app_id = ?", [
    app.name,
    app.endUserAuth === null ? null : JSON.stringify(app.endUserAuth),
    app.updatedAtMs,
    app.id,
  ]);
}

/** Every application, oldest first (the admin's application switcher). */
export async function listApps(q: Sql, limit: number): Promise<AppRecord[]> {
  const rows = await q.all<AppRow>("SELECT * FROM apps ORDER BY app_id LIMIT ?", [limit]);
  return rows.map(toApp);
}

export async function countApps(q: Sql): Promise<number> {
  const row = await q.get<{ n: number }>("SELECT COUNT(*) AS n FROM apps");
  return Number(row?.n ?? 0);
}

/** Instance-wide settings live under the reserved application id `_instance`. */
export const INSTANCE_APP_ID = "_instance";

export async function getSetting(q: Sql, name: string): Promise<string | undefined> {
  const row = await q.get<{ value: string }>("SELECT value FROM instance_settings WHERE app_id = ? AND name = ?", [
    INSTANCE_APP_ID,
    name,
  ]);
  return row?.value;
}

/** Sets a setting only if it is not set yet; returns the value in force. */
export async function initSetting(tx: Sql, name: string, value: string): Promise<string> {
  await tx.run("INSERT INTO instance_settings (app_id, name, value) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", [
    INSTANCE_APP_ID,
    name,
    value,
  ]);
  return (await getSetting(tx, name)) ?? value;
}

/**
 * Applications whose end-user tokens are issued by `issuer`. The LIKE is only a pre-filter on
 * the stored JSON (escaped for LIKE's wildcards); the exact match is made on the parsed value.
 */
export async function findAppsByEndUserIssuer(q: Sql, issuer: string, limit = 20): Promise<AppRecord[]> {
  const needle = `"issuer":${JSON.stringify(issuer)}`.replace(/[\\%_]/g, (c) => `\\${c}`);
  const rows = await q.all<AppRow>("SELECT * FROM apps WHERE end_user_auth LIKE ? ESCAPE '\\' ORDER BY app_id LIMIT ?", [`%${needle}%`, limit]);
  return rows.map(toApp).filter((app) => app.endUserAuth?.issuer === issuer);
}

import type { BalanceRecord } from "../store/records.ts";
import * as balances from "../store/repo/balances.ts";
import { plainView, viewBalance, type BalanceView } from "./balance-view.ts";
import { inTransaction, type Scope } from "./context.ts";
import { checkAccountRef, requireAccount, type AccountRef } from "./accounts.ts";
import { notFound } from "./errors.ts";
import { UnitLedger, type LedgerContext } from "./unit-ledger.ts";

export type { BalanceView } from "./balance-view.ts";
export { viewBalance } from "./balance-view.ts";

export const DEFAULT_UNIT = "credits";

/**
 * A balance as of now. A plain read, unless something fell due (a lot or hold expired) and no
 * one has settled it yet: then it settles first, so expiry counts at `expiresAt` exactly.
 */
export async function readBalance(scope: Scope, accountId: string, unit: string): Promise<BalanceView> {
  const nowMs = scope.clock.nowMs();
  const row = await scope.db.read((q) => balances.getBalance(q, scope.appId, accountId, unit));
  return balanceAsOf(scope, accountId, unit, row, nowMs);
}

/** The view of a balance row just read (undefined: none in that unit), settling it first if something fell due. */
async function balanceAsOf(scope: Scope, accountId: string, unit: string, row: BalanceRecord | undefined, nowMs: number): Promise<BalanceView> {
  if (row === undefined) return { accountId, unit, balance: 0, reserved: 0, available: 0 };
  if (row.nextDueAtMs !== null && row.nextDueAtMs <= nowMs) {
    const view = await inTransaction(scope, (tx, now) => settledBalance({ tx, appId: scope.appId, nowMs: now }, accountId, unit));
    return view ?? { accountId, unit, balance: 0, reserved: 0, available: 0 };
  }
  // Nothing expires: the view needs no second read.
  if (row.nextDueAtMs === null) return plainView(row);
  return scope.db.read((q) => viewBalance(q, scope.appId, row, nowMs));
}

/**
 * The balance as of now inside an open transaction (replayed answers use it): settled first when
 * something fell due, as any read does, so it never shows expired credits. Undefined when the
 * account has no balance row in that unit.
 */
export async function settledBalance(ctx: LedgerContext, accountId: string, unit: string): Promise<BalanceView | undefined> {
  const row = await balances.getBalance(ctx.tx, ctx.appId, accountId, unit);
  if (row === undefined) return undefined;
  if (row.nextDueAtMs !== null && row.nextDueAtMs <= ctx.nowMs) {
    const ledger = await UnitLedger.open(ctx, accountId, unit);
    await ledger.finish();
    return ledger.view();
  }
  return viewBalance(ctx.tx, ctx.appId, row, ctx.nowMs);
}

export async function getAccountBalance(scope: Scope, ref: AccountRef, unit: string): Promise<BalanceView> {
  checkAccountRef(ref);
  const nowMs = scope.clock.nowMs();
  // One read finds the account and its balance: the hot path of every "can this user afford it".
  const found = await scope.db.read((q) => balances.getBalanceOf(q, scope.appId, ref, unit));
  if (found === undefined) throw notFound("ACCOUNT_NOT_FOUND", "account", ref.accountId ?? ref.externalId ?? "");
  return balanceAsOf(scope, found.accountId, unit, found.balance, nowMs);
}

export async function getAccountBalances(scope: Scope, ref: AccountRef): Promise<{ accountId: string; balances: BalanceView[] }> {
  const account = await scope.db.read((q) => requireAccount(q, scope.appId, ref));
  const rows = await scope.db.read((q) => balances.listBalances(q, scope.appId, account.id));
  const views: BalanceView[] = [];
  for (const row of rows) views.push(await readBalance(scope, account.id, row.unit));
  return { accountId: account.id, balances: views };
}

import type { Sql } from "../store/sql.ts";
import type { Scope } from "./context.ts";
import { inTransaction } from "./context.ts";
import { notFound } from "./errors.ts";
import { newId } from "./ids.ts";
import { requireAccount, type AccountRef } from "./accounts.ts";
import { lockBalance } from "../store/repo/balances.ts";
import { getAddon } from "../store/repo/catalog.ts";
import { insertOrder } from "../store/repo/orders.ts";
import { COMMERCE_FLAGS } from "./spend-limits.ts";

/**
 * Auto top-up: when a spend leaves `available` below the threshold, one order for the add-on is
 * created in the spend's own transaction and its id written to the setting's `in_flight_order_id`
 * (a conditional update, under the balance row lock), so a second purchase cannot start until
 * that order is paid or canceled. A free add-on's order is fulfilled by the scheduler within a
 * tick; a paid one waits for payment like any other order (see docs/commerce.md).
 */
export interface AutoTopupSetting {
  accountId: string;
  unit: string;
  threshold: number;
  addonId: string;
  enabled: boolean;
  inFlightOrderId: string | null;
}

interface Row { account_id: string; unit: string; threshold: number; addon_id: string; enabled: number | boolean; in_flight_order_id: string | null }
const toSetting = (r: Row): AutoTopupSetting => ({
  accountId: r.account_id, unit: r.unit, threshold: Number(r.threshold), addonId: r.addon_id, enabled: Number(r.enabled) === 1, inFlightOrderId: r.in_flight_order_id,
});

/** Called by `UnitLedger.finish` for flagged accounts after a spend. */
export async function maybeStartAutoTopup(ctx: { tx: Sql; appId: string; nowMs: number }, accountId: string, unit: string, available: number): Promise<void> {
  const { tx, appId, nowMs } = ctx;
  const row = await tx.get<Row>("SELECT * FROM auto_topups WHERE app_id = ? AND account_id = ? AND unit = ?", [appId, accountId, unit]);
  if (row === undefined) return;
  const setting = toSetting(row);
  if (!setting.enabled || available >= setting.threshold || setting.inFlightOrderId !== null) return;
  const addon = await getAddon(tx, appId, setting.addonId);
  if (addon === undefined) return;
  const orderId = newId("order", nowMs);
  const { changes } = await tx.run(
    "UPDATE auto_topups SET in_flight_order_id = ?, updated_at = ? WHERE app_id = ? AND account_id = ? AND unit = ? AND in_flight_order_id IS NULL",
    [orderId, nowMs, appId, accountId, unit],
  );
  if (changes !== 1) return;
  await insertOrder(tx, appId, {
    id: orderId, accountId, kind: "auto_topup", productId: addon.productId, planId: null, addonId: addon.id, status: "pending", amount: addon.priceAmount,
    currency: addon.currency, unit: addon.unit, creditQty: addon.creditQty, provider: addon.priceAmount === 0 ? "free" : "manual", providerRef: null, paymentRef: null,
    checkoutUrl: null, idempotencyKey: null, grantId: null, subscriptionId: null, clawbackTxnId: null, createdAtMs: nowMs, paidAtMs: null, refundedAtMs: null,
  });
}

/** Clears the in-flight marker once its order is paid or canceled; inside the order's transaction. */
export async function clearInFlight(tx: Sql, appId: string, orderId: string): Promise<void> {
  await tx.run("UPDATE auto_topups SET in_flight_order_id = NULL WHERE app_id = ? AND in_flight_order_id = ?", [appId, orderId]);
}

export interface AutoTopupInput {
  unit: string;
  threshold: number;
  addonId: string;
  enabled: boolean;
}

/**
 * @example
 * await setAutoTopup(scope, { accountId: "acct_…" }, { unit: "credits", threshold: 100, addonId: "addon_…", enabled: true });
 */
export async function setAutoTopup(scope: Scope, ref: AccountRef, input: AutoTopupInput): Promise<AutoTopupSetting> {
  return inTransaction(scope, async (tx, nowMs) => {
    const account = await requireAccount(tx, scope.appId, ref);
    const addon = await getAddon(tx, scope.appId, input.addonId);
    if (addon === undefined) throw notFound("ADDON_NOT_FOUND", "add-on", input.addonId);
    const balance = await lockBalance(tx, scope.appId, account.id, input.unit, nowMs);
    await tx.run(
      `INSERT INTO auto_topups (app_id, account_id, unit, threshold, addon_id, enabled, in_flight_order_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, NULL, ?)
       ON CONFLICT (app_id, account_id, unit) DO UPDATE SET threshold = excluded.threshold, addon_id = excluded.addon_id, enabled = excluded.enabled, updated_at = excluded.updated_at`,
      [scope.appId, account.id, input.unit, input.threshold, input.addonId, input.enabled ? 1 : 0, nowMs],
    );
    const flags = input.enabled ? (balance.commerceFlags ?? 0) | COMMERCE_FLAGS.autoTopup : (balance.commerceFlags ?? 0) & ~COMMERCE_FLAGS.autoTopup;
    await tx.run("UPDATE balances SET commerce_flags = ? WHERE app_id = ? AND account_id = ? AND unit = ?", [flags, scope.appId, account.id, input.unit]);
    const row = await tx.get<Row>("SELECT * FROM auto_topups WHERE app_id = ? AND account_id = ? AND unit = ?", [scope.appId, account.id, input.unit]);
    return toSetting(row!);
  });
}

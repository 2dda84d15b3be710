import type { Scope } from "./context.ts";
import { requireAccount, type AccountRef } from "./accounts.ts";
import { isEntitling, liveSubscriptionsOf } from "./subscriptions.ts";
import { getPlan, type PlanRecord } from "../store/repo/catalog.ts";

/**
 * Entitlements are computed from the subscriptions table on every call (no cache), so they
 * change the instant a subscription does: created, canceled now, or past the end of a
 * `pending_cancel` period (even before the scheduler has recorded it).
 */
export interface Entitlement {
  feature: string;
  productId: string | null;
  planId: string;
}

export interface EntitlementCheck {
  allowed: boolean;
  reason: "ok" | "no_subscription" | "feature_not_in_plan";
}

async function livePlans(scope: Scope, accountId: string): Promise<PlanRecord[]> {
  const nowMs = scope.clock.nowMs();
  return scope.db.read(async (q) => {
    const subs = await liveSubscriptionsOf(q, scope.appId, accountId, nowMs);
    const plans: PlanRecord[] = [];
    for (const s of subs) {
      if (!isEntitling(s, nowMs)) continue;
      const plan = await getPlan(q, scope.appId, s.planId);
      if (plan !== undefined) plans.push(plan);
    }
    return plans;
  });
}

/**
 * The features an account has through its live subscriptions. Also what `/v1/me/entitlements` calls.
 *
 * @example
 * const features = await listEntitlements(scope, "acct_…");
 */
export async function listEntitlements(scope: Scope, accountId: string): Promise<Entitlement[]> {
  const out: Entitlement[] = [];
  const seen = new Set<string>();
  for (const plan of await livePlans(scope, accountId)) {
    for (const feature of plan.features) {
      const key = `${feature}\u0000${plan.id}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push({ feature, productId: plan.productId, planId: plan.id });
    }
  }
  return out;
}

/**
 * `feature` absent: "has any live subscription (for `productId` when given)".
 *
 * @example
 * const { allowed } = await checkEntitlement(scope, { externalId: "user_1" }, { feature: "export" });
 */
export async function checkEntitlement(scope: Scope, ref: AccountRef, query: { feature?: string | undefined; productId?: string | undefined }): Promise<EntitlementCheck> {
  const account = await scope.db.read((q) => requireAccount(q, scope.appId, ref));
  const plans = (await livePlans(scope, account.id)).filter((p) => query.productId === undefined || p.productId === query.productId);
  if (plans.length === 0) return { allowed: false, reason: "no_subscription" };
  if (query.feature === undefined) return { allowed: true, reason: "ok" };
  const feature = query.feature;
  return plans.some((p) => p.features.includes(feature)) ? { allowed: true, reason: "ok" } : { allowed: false, reason: "feature_not_in_plan" };
}

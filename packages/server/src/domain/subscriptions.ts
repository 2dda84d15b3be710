import type { Sql } from "../store/sql.ts";
import type { Scope } from "./context.ts";
import { inTransaction } from "./context.ts";
import { newId } from "./ids.ts";
import { assert, notFound, TallyError, validationError } from "./errors.ts";
import { requireAccount, type AccountRef } from "./accounts.ts";
import { grantWithin } from "./credits.ts";
import { emitEvents, type OutboxEvent } from "./webhooks.ts";
import { toIso } from "./clock.ts";
import { getPlan, type PlanInterval, type PlanRecord } from "../store/repo/catalog.ts";
import { insertInvoice } from "../store/repo/orders.ts";
import * as repo from "../store/repo/subscriptions.ts";
import type { SubscriptionRecord, SubscriptionStatus } from "../store/repo/subscriptions.ts";

export type { SubscriptionRecord, SubscriptionStatus } from "../store/repo/subscriptions.ts";

/**
 * Subscriptions and their periods.
 *
 * A period's credits are granted once and only once: the grant runs in the same transaction as
 * the compare-and-set that records `granted_period_start` on the (row-locked) subscription, and
 * each grant carries the ledger idempotency key `sub:<id>:<periodStart>:<unit>`, unique per
 * application forever. Two processes racing one renewal serialise on the subscription row; the
 * loser finds the period granted and does nothing. Plan credits expire at their period's end
 * unless the plan says `rollover`. A trial is the first period (its length is the trial's) and
 * grants the plan's credits like any period.
 */

const DAY_MS = 86_400_000;
/** Periods one renewal pass may catch up on (a server down for years still renews in bounded steps). */
const CATCH_UP_PERIODS_MAX = 1000;
const LIVE: ReadonlySet<SubscriptionStatus> = new Set(["trial", "active", "past_due", "pending_cancel"]);
/**
 * A bound on one account's live subscriptions read at once (entitlements, a `period_end` start).
 * Far above any real account: a live subscription per product, and few products.
 */
const LIVE_SUBSCRIPTIONS_PER_ACCOUNT_MAX = 1_000;

/** `startMs` plus one interval, in UTC calendar months (the day clamped to the month's last day). */
export function addInterval(startMs: number, interval: PlanInterval): number | null {
  if (interval === "one_time") return null;
  const d = new Date(startMs);
  const months = interval === "month" ? 1 : 12;
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + months;
  const lastDay = new Date(Date.UTC(y, m + 1, 0)).getUTCDate();
  return Date.UTC(y, m, Math.min(d.getUTCDate(), lastDay), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds(), d.getUTCMilliseconds());
}

/** The status as of `nowMs`: a subscription whose period ended is shown as what it has become, even before the scheduler records it. */
export function effectiveStatus(s: SubscriptionRecord, nowMs: number): SubscriptionStatus {
  if (s.status === "pending_cancel" && s.currentPeriodEndMs !== null && s.currentPeriodEndMs <= nowMs) return "canceled";
  if (s.status === "past_due" && s.currentPeriodEndMs !== null && s.currentPeriodEndMs <= nowMs) return "expired";
  return s.status;
}

/** Live and started: what entitlements count. */
export function isEntitling(s: SubscriptionRecord, nowMs: number): boolean {
  return LIVE.has(effectiveStatus(s, nowMs)) && s.currentPeriodStartMs <= nowMs;
}

function nextRunAt(s: SubscriptionRecord): number | null {
  if (!LIVE.has(s.status)) return null;
  if (s.grantedPeriodStartMs !== s.currentPeriodStartMs) return s.currentPeriodStartMs;
  return s.currentPeriodEndMs;
}

type Ctx = { tx: Sql; appId: string; nowMs: number };

async function grantPeriod(ctx: Ctx, s: SubscriptionRecord, plan: PlanRecord): Promise<void> {
  for (const credit of plan.credits) {
    await grantWithin(ctx, s.accountId, {
      amount: credit.amount,
      unit: credit.unit,
      source: "plan",
      expiresAtMs: credit.rollover || s.currentPeriodEndMs === null ? undefined : s.currentPeriodEndMs,
      reference: s.id,
      description: `${plan.name}: credits for the period from ${toIso(s.currentPeriodStartMs)}`,
      idempotencyKey: `sub:${s.id}:${s.currentPeriodStartMs}:${credit.unit}`,
    });
  }
  // The first period bought through an order is invoiced by the order.
  const paidByOrder = s.orderId !== null && s.currentPeriodStartMs === s.createdAtMs;
  if (!paidByOrder) {
    await insertInvoice(ctx.tx, ctx.appId, {
      id: newId("invoice", ctx.nowMs),
      key: `sub:${s.id}:${s.currentPeriodStartMs}`,
      accountId: s.accountId,
      orderId: null,
      subscriptionId: s.id,
      amount: s.status === "trial" ? 0 : plan.priceAmount,
      currency: plan.currency,
      status: s.status === "trial" || plan.priceAmount === 0 ? "paid" : "open",
      lines: [{ description: `${plan.name} (${toIso(s.currentPeriodStartMs)} – ${s.currentPeriodEndMs === null ? "∞" : toIso(s.currentPeriodEndMs)})`, amount: s.status === "trial" ? 0 : plan.priceAmount, quantity: 1 }],
      createdAtMs: ctx.nowMs,
    });
  }
}

/**
 * Brings a subscription up to `nowMs` inside the caller's transaction (the row already locked):
 * grants the current period if not yet granted, ends periods that are over (pending_cancel →
 * canceled, trial → active, otherwise the next period starts) and catches up on every missed one.
 */
async function advanceWithin(ctx: Ctx, s: SubscriptionRecord, plan: PlanRecord): Promise<{ changed: boolean; events: OutboxEvent[] }> {
  const events: OutboxEvent[] = [];
  let changed = false;
  for (let step = 0; step < CATCH_UP_PERIODS_MAX * 2; step++) {
    if (!LIVE.has(s.status)) break;
    if (s.currentPeriodStartMs <= ctx.nowMs && s.grantedPeriodStartMs !== s.currentPeriodStartMs) {
      await grantPeriod(ctx, s, plan);
      if (s.grantedPeriodStartMs !== null) {
        events.push({ type: "subscription.renewed", data: { subscriptionId: s.id, accountId: s.accountId, planId: s.planId, currentPeriodStart: toIso(s.currentPeriodStartMs), currentPeriodEnd: s.currentPeriodEndMs === null ? null : toIso(s.currentPeriodEndMs) } });
      }
      s.grantedPeriodStartMs = s.currentPeriodStartMs;
      changed = true;
      continue;
    }
    if (s.currentPeriodEndMs !== null && s.currentPeriodEndMs <= ctx.nowMs) {
      changed = true;
      if (s.cancelAtPeriodEnd) {
        s.status = "canceled";
        s.canceledAtMs = s.currentPeriodEndMs;
        events.push({ type: "subscription.canceled", data: { subscriptionId: s.id, accountId: s.accountId, planId: s.planId, canceledAt: toIso(s.canceledAtMs), reason: s.cancelReason } });
        break;
      }
      if (s.status === "past_due") {
        // The period ended without its payment: no next period.
        s.status = "expired";
        s.canceledAtMs = s.currentPeriodEndMs;
        events.push({ type: "subscription.canceled", data: { subscriptionId: s.id, accountId: s.accountId, planId: s.planId, canceledAt: toIso(s.canceledAtMs), reason: "expired unpaid", status: "expired" } });
        break;
      }
      s.status = "active";
      s.currentPeriodStartMs = s.currentPeriodEndMs;
      s.currentPeriodEndMs = addInterval(s.currentPeriodStartMs, plan.interval);
      continue;
    }
    break;
  }
  s.nextRunAtMs = nextRunAt(s);
  s.updatedAtMs = ctx.nowMs;
  return { changed, events };
}

/**
 * Runs due work for one subscription in its own transaction. Safe to call from any number of
 * processes at once: they serialise on the subscription row and the CAS makes all but one no-ops.
 * Returns true when this call changed something.
 */
export async function advanceSubscription(scope: Scope, subscriptionId: string): Promise<boolean> {
  return inTransaction(scope, async (tx, nowMs) => {
    const ctx = { tx, appId: scope.appId, nowMs };
    const s = await repo.getSubscription(tx, scope.appId, subscriptionId, true);
    if (s === undefined) return false;
    const plan = await getPlan(tx, scope.appId, s.planId);
    if (plan === undefined) return false;
    const expected = { periodStartMs: s.currentPeriodStartMs, grantedPeriodStartMs: s.grantedPeriodStartMs, status: s.status };
    const { changed, events } = await advanceWithin(ctx, s, plan);
    if (!changed) return false;
    if (!(await repo.saveSubscriptionIf(tx, scope.appId, s, expected))) {
      // Another writer got there first; roll this attempt's grants back by failing the transaction.
      throw new TallyError("IDEMPOTENCY_KEY_IN_USE", `Subscription ${s.id} is being renewed by another process`);
    }
    await emitEvents(ctx, events);
    return changed;
  });
}

export interface CreateSubscriptionInput extends AccountRef {
  planId: string;
  startMode: "immediate" | "period_end";
  trialDays?: number | undefined;
}

/**
 * Creates a subscription inside the caller's transaction (also used by order fulfilment).
 * `period_end` starts it when the account's current subscription to the same product ends (that
 * one is set to cancel at its period end); with no such subscription it starts now.
 */
export async function createSubscriptionWithin(
  ctx: Ctx,
  accountId: string,
  plan: PlanRecord,
  input: { startMode: "immediate" | "period_end"; trialDays?: number | undefined; orderId?: string | null | undefined },
): Promise<SubscriptionRecord> {
  let startMs = ctx.nowMs;
  if (input.startMode === "period_end") {
    const current = (await liveSubscriptionsOf(ctx.tx, ctx.appId, accountId, ctx.nowMs)).find(
      (s) => s.productId === plan.productId && s.currentPeriodEndMs !== null && s.currentPeriodEndMs > ctx.nowMs,
    );
    if (current !== undefined && current.currentPeriodEndMs !== null) {
      startMs = current.currentPeriodEndMs;
      const expected = { periodStartMs: current.currentPeriodStartMs, grantedPeriodStartMs: current.grantedPeriodStartMs, status: current.status };
      current.cancelAtPeriodEnd = true;
      current.status = "pending_cancel";
      current.cancelReason = `replaced by plan ${plan.id}`;
      current.updatedAtMs = ctx.nowMs;
      await repo.saveSubscriptionIf(ctx.tx, ctx.appId, current, expected);
    }
  }
  const trialDays = input.trialDays ?? plan.trialDays ?? 0;
  const trial = trialDays > 0;
  const s: SubscriptionRecord = {
    id: newId("subscription", ctx.nowMs),
    accountId,
    planId: plan.id,
    productId: plan.productId,
    status: trial ? "trial" : "active",
    currentPeriodStartMs: startMs,
    currentPeriodEndMs: trial ? startMs + trialDays * DAY_MS : addInterval(startMs, plan.interval),
    grantedPeriodStartMs: null,
    nextRunAtMs: null,
    cancelAtPeriodEnd: false,
    canceledAtMs: null,
    cancelReason: null,
    orderId: input.orderId ?? null,
    // When it was made, even if its first period starts later (`period_end`). A subscription
    // bought through an order always starts at once, so there this is its first period's start
    // too, which `paidByOrder` and an order's refund rely on.
    createdAtMs: ctx.nowMs,
    updatedAtMs: ctx.nowMs,
  };
  await advanceWithin(ctx, s, plan);
  await repo.insertSubscription(ctx.tx, ctx.appId, s);
  return s;
}

/**
 * @example
 * await createSubscription(scope, { externalId: "user_1", planId: "plan_…", startMode: "immediate" });
 */
export async function createSubscription(scope: Scope, input: CreateSubscriptionInput): Promise<SubscriptionRecord> {
  if (input.trialDays !== undefined && input.trialDays < 0) throw validationError("/trialDays", "must be ≥ 0");
  return inTransaction(scope, async (tx, nowMs) => {
    const account = await requireAccount(tx, scope.appId, input);
    const plan = await getPlan(tx, scope.appId, input.planId);
    if (plan === undefined) throw notFound("PLAN_NOT_FOUND", "plan", input.planId);
    return createSubscriptionWithin({ tx, appId: scope.appId, nowMs }, account.id, plan, input);
  });
}

/**
 * Cancels at period end (default: status `pending_cancel`, entitlements last until the period
 * ends) or now (status `canceled`; credits already granted stay until they expire).
 */
export async function cancelSubscription(scope: Scope, id: string, input: { atPeriodEnd?: boolean | undefined; reason?: string | undefined }): Promise<SubscriptionRecord> {
  return inTransaction(scope, async (tx, nowMs) => {
    const s = await repo.getSubscription(tx, scope.appId, id, true);
    if (s === undefined) throw notFound("SUBSCRIPTION_NOT_FOUND", "subscription", id);
    if (!LIVE.has(effectiveStatus(s, nowMs))) return { ...s, status: effectiveStatus(s, nowMs) };
    const expected = { periodStartMs: s.currentPeriodStartMs, grantedPeriodStartMs: s.grantedPeriodStartMs, status: s.status };
    const atPeriodEnd = (input.atPeriodEnd ?? true) && s.currentPeriodEndMs !== null;
    s.cancelReason = input.reason ?? null;
    s.updatedAtMs = nowMs;
    const events: OutboxEvent[] = [];
    if (atPeriodEnd) {
      s.status = "pending_cancel";
      s.cancelAtPeriodEnd = true;
    } else {
      s.status = "canceled";
      s.canceledAtMs = nowMs;
      s.nextRunAtMs = null;
      events.push({ type: "subscription.canceled", data: { subscriptionId: s.id, accountId: s.accountId, planId: s.planId, canceledAt: toIso(nowMs), reason: s.cancelReason } });
    }
    if (!(await repo.saveSubscriptionIf(tx, scope.appId, s, expected))) throw new TallyError("IDEMPOTENCY_KEY_IN_USE", `Subscription ${s.id} changed meanwhile; retry`);
    await emitEvents({ tx, appId: scope.appId, nowMs }, events);
    return s;
  });
}

/** Cancels now inside the caller's transaction (a refunded plan order); undefined when it does not exist. */
export async function cancelSubscriptionWithin(ctx: Ctx, id: string, reason: string): Promise<SubscriptionRecord | undefined> {
  const s = await repo.getSubscription(ctx.tx, ctx.appId, id, true);
  if (s === undefined) return undefined;
  if (!LIVE.has(s.status)) return s;
  const expected = { periodStartMs: s.currentPeriodStartMs, grantedPeriodStartMs: s.grantedPeriodStartMs, status: s.status };
  s.status = "canceled";
  s.canceledAtMs = ctx.nowMs;
  s.cancelReason = reason;
  s.nextRunAtMs = null;
  s.updatedAtMs = ctx.nowMs;
  if (!(await repo.saveSubscriptionIf(ctx.tx, ctx.appId, s, expected))) throw new TallyError("IDEMPOTENCY_KEY_IN_USE", `Subscription ${s.id} changed meanwhile; retry`);
  await emitEvents(ctx, [{ type: "subscription.canceled", data: { subscriptionId: s.id, accountId: s.accountId, planId: s.planId, canceledAt: toIso(ctx.nowMs), reason } }]);
  return s;
}

/**
 * The payment provider reports the state of the subscription it bills: `past_due` (a renewal
 * payment failed: still entitled, and if the period ends unpaid the subscription expires),
 * `active` again once paid, or `canceled`. Returns undefined for an order without subscription.
 */
export async function applyProviderStatus(scope: Scope, subscriptionId: string, status: "past_due" | "active" | "canceled"): Promise<SubscriptionRecord | undefined> {
  return inTransaction(scope, async (tx, nowMs) => {
    const ctx = { tx, appId: scope.appId, nowMs };
    if (status === "canceled") return cancelSubscriptionWithin(ctx, subscriptionId, "canceled by the payment provider");
    const s = await repo.getSubscription(tx, scope.appId, subscriptionId, true);
    if (s === undefined || !LIVE.has(s.status)) return s;
    const expected = { periodStartMs: s.currentPeriodStartMs, grantedPeriodStartMs: s.grantedPeriodStartMs, status: s.status };
    if (status === "past_due" && (s.status === "active" || s.status === "trial")) s.status = "past_due";
    else if (status === "active" && s.status === "past_due") s.status = "active";
    else return s;
    s.updatedAtMs = nowMs;
    if (!(await repo.saveSubscriptionIf(tx, scope.appId, s, expected))) throw new TallyError("IDEMPOTENCY_KEY_IN_USE", `Subscription ${s.id} changed meanwhile; retry`);
    return s;
  });
}

export async function getSubscription(scope: Scope, id: string): Promise<SubscriptionRecord> {
  const s = await scope.db.read((q) => repo.getSubscription(q, scope.appId, id));
  if (s === undefined) throw notFound("SUBSCRIPTION_NOT_FOUND", "subscription", id);
  return { ...s, status: effectiveStatus(s, scope.clock.nowMs()) };
}

export interface SubscriptionListFilter {
  accountId?: string | undefined;
  status?: SubscriptionStatus | undefined;
  after?: string | undefined;
  limit?: number | undefined;
}

/**
 * An account's (or every) subscription, statuses as of now. Also what `/v1/me/subscriptions` calls.
 *
 * @example
 * const subs = await listSubscriptions(scope, { accountId: "acct_…" });
 */
export async function listSubscriptions(scope: Scope, filter: SubscriptionListFilter): Promise<SubscriptionRecord[]> {
  const nowMs = scope.clock.nowMs();
  const rows = await scope.db.read((q) =>
    repo.listSubscriptions(q, scope.appId, {
      accountId: filter.accountId,
      statusAt: filter.status === undefined ? undefined : { statuses: [filter.status], atMs: nowMs },
      after: filter.after,
      limit: (filter.limit ?? 20) + 1,
    }),
  );
  const shown = rows.map((s) => ({ ...s, status: effectiveStatus(s, nowMs) }));
  assert(filter.status === undefined || shown.every((s) => s.status === filter.status), "the SQL status filter agrees with effectiveStatus");
  return shown;
}

/** An account's live subscriptions (trial, active, past due, pending cancel) as of `nowMs`, all of them. */
export async function liveSubscriptionsOf(q: Sql, appId: string, accountId: string, nowMs: number): Promise<SubscriptionRecord[]> {
  return repo.listSubscriptions(q, appId, { accountId, statusAt: { statuses: [...LIVE], atMs: nowMs }, limit: LIVE_SUBSCRIPTIONS_PER_ACCOUNT_MAX });
}

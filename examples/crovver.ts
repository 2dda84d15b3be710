/**
 * Crovver quickstart on Tally: tenants, plans, subscriptions, feature entitlements, credit
 * pools with idempotent consumption, add-ons, usage, checkout and invoices, plus the client
 * options (timeout, retries, debug logger) and error fields.
 *
 *   TALLY_BASE_URL=http://127.0.0.1:8787 TALLY_API_KEY=sk_… node --import tsx examples/crovver.ts
 */
import { InsufficientCreditsError, NotFoundError, Tally, TallyError } from "@tally/sdk";

const debugLines: string[] = [];
const crovver = new Tally({
  apiKey: requireEnv("TALLY_API_KEY"),
  baseUrl: process.env["TALLY_BASE_URL"] ?? "http://127.0.0.1:8787",
  timeoutMs: 30_000,
  maxRetries: 3,
  debug: true,
  logger: (message) => debugLines.push(message), // secrets are redacted before they reach it
});
const run = Date.now().toString(36);
const tenantId = `workspace_abc123-${run}`;

/** credits.consume → { result, remaining, alreadyProcessed, poolKey } */
async function consume(poolKey: string, amount: number, idempotencyKey: string) {
  try {
    const out = await crovver.credits.deduct({ externalId: tenantId, unit: poolKey, amount, idempotencyKey, metadata: { prompt: "summarise report" } });
    return { result: "success" as const, remaining: out.balance.available, alreadyProcessed: out.alreadyProcessed, poolKey };
  } catch (err) {
    if (err instanceof InsufficientCreditsError) return { result: "insufficient_credits" as const, remaining: err.available ?? 0, alreadyProcessed: false, poolKey };
    throw err;
  }
}

async function main(): Promise<void> {
  // Tenants.
  const tenant = await crovver.accounts.create({ externalId: tenantId, name: "Acme Corp", metadata: { externalUserId: "user_123" } });
  const fetched = await crovver.accounts.getByExternalId(tenantId);
  console.log(`tenant ${fetched.name} → ${tenant.id}`);

  // Plans.
  const plans = await ifServed("plans", async () => (await crovver.plans.list()).items);
  for (const plan of plans ?? []) console.log(`${plan.name} - $${plan.priceAmount / 100}/${plan.interval}`);

  // Subscriptions: active | trial | past_due | pending_cancel | canceled | expired.
  await ifServed("subscriptions", async () => {
    const { items: subscriptions } = await crovver.subscriptions.list({ externalId: tenantId });
    console.log(`subscriptions: ${subscriptions.map((s) => s.status).join(", ") || "none"}`);
    const first = subscriptions[0];
    if (first !== undefined) await crovver.subscriptions.cancel(first.id, { reason: "User requested cancellation" });
  });

  // Feature entitlements: by feature, scoped to a product, or "any live subscription".
  await ifServed("entitlements", async () => {
    const canAccess = await crovver.entitlements.check({ externalId: tenantId, feature: "advanced_analytics" });
    console.log(`canAccess advanced_analytics: ${canAccess.allowed} (${canAccess.reason})`);
    const product = (await crovver.products.list({ limit: 1 })).items[0];
    if (product !== undefined) {
      const hasProduct = await crovver.entitlements.check({ externalId: tenantId, productId: product.id });
      console.log(`any live subscription for ${product.name}: ${hasProduct.allowed}`);
    }
  });

  // Credits: pools are units; balance → pools; consume is idempotent.
  await crovver.credits.grant({ externalId: tenantId, unit: "ai_generations", amount: 3, source: "plan" });
  const { balances } = await crovver.accounts.balances({ externalId: tenantId });
  for (const pool of balances) console.log(`${pool.unit}: ${pool.available} remaining`);
  const key = crypto.randomUUID(); // stable per user action
  const result = await consume("ai_generations", 1, key);
  const repeat = await consume("ai_generations", 1, key);
  console.log(`consume: ${result.result}, remaining ${result.remaining}; repeat alreadyProcessed=${repeat.alreadyProcessed}`);
  if (!repeat.alreadyProcessed || repeat.remaining !== result.remaining) throw new Error("consume was not idempotent");
  const tooMuch = await consume("ai_generations", 50, crypto.randomUUID());
  console.log(`consume 50: ${tooMuch.result} (remaining ${tooMuch.remaining})`);
  if (tooMuch.result !== "insufficient_credits") throw new Error("expected insufficient_credits");

  // Add-ons: list available, purchase (redirect when payment is needed), active pools.
  await ifServed("add-ons", async () => {
    const { items: addons } = await crovver.addons.listAvailable({ externalId: tenantId });
    for (const addon of addons) console.log(`${addon.name}: ${addon.creditQty} credits — ${addon.currency} ${addon.priceAmount}`);
    const addon = addons[0];
    if (addon !== undefined) {
      const purchase = await crovver.addons.purchase(
        { externalId: tenantId },
        { addonId: addon.id, currency: "USD", idempotencyKey: crypto.randomUUID(), successUrl: "https://yourapp.com/billing/success", cancelUrl: "https://yourapp.com/billing/cancel" },
      );
      console.log(purchase.requiresPayment ? `redirect to ${purchase.checkoutUrl}` : `${purchase.creditQty} credits added`);
    }
    const { pools } = await crovver.addons.listActive({ externalId: tenantId });
    for (const pool of pools) console.log(`add-on pool ${pool.unit}: ${pool.remaining} remaining`);
  });

  // Usage (recordUsage) and the limit check (checkUsageLimit → balance).
  await crovver.usage.record({ externalId: tenantId, modelId: "api_calls", usageType: "other", quantity: 1 });
  const limit = await crovver.accounts.balance({ externalId: tenantId }, { unit: "ai_generations" });
  console.log(`ai_generations: ${limit.available} available of ${limit.balance}`);

  // Checkout (never retried) and invoices.
  await ifServed("checkout", async () => {
    const plan = plans?.[0];
    if (plan === undefined) return;
    const session = await crovver.checkout.createSession({ externalId: tenantId, planId: plan.id, successUrl: "https://yourapp.com/billing/success", cancelUrl: "https://yourapp.com/billing/cancel" });
    console.log(`checkout: ${session.checkoutUrl}`);
  });
  await ifServed("invoices", async () => {
    const { items: invoices } = await crovver.invoices.list({ externalId: tenantId });
    console.log(`invoices: ${invoices.length}`);
  });

  // Error handling: message, status, code, isRetryable.
  try {
    await crovver.accounts.getByExternalId(`no-such-tenant-${run}`);
  } catch (error) {
    if (!(error instanceof TallyError)) throw error;
    console.log(`expected error: ${error.message} (status ${error.status}, code ${error.code}, retryable ${error.isRetryable})`);
  }
  console.log(`debug logger received ${debugLines.length} lines`);
}

async function ifServed<T>(feature: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof NotFoundError && err.code === "NOT_FOUND") {
      console.log(`skipped: ${feature} not yet served`);
      return undefined;
    }
    throw err;
  }
}

function requireEnv(name: string): string {
  const value = process.env[name];
  if (!value) {
    console.error(`set ${name}`);
    process.exit(2);
  }
  return value;
}

main().then(
  () => console.log("crovver quickstart: ok"),
  (err: unknown) => {
    if (err instanceof TallyError) console.error("FAILED:", err.code, err.status, err.message, err.requestId, err.details);
    else console.error("FAILED:", err);
    process.exit(1);
  },
);

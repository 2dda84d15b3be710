/**
 * Countwerk quickstart on Tally: resolve an order to its account, deduct credits per
 * operation (idempotent by usage event id), list purchase links, check the balance, and
 * reserve → confirm / cancel with a validity window.
 *
 *   TALLY_BASE_URL=http://127.0.0.1:8787 TALLY_API_KEY=sk_… node --import tsx examples/countwerk.ts
 */
import { InsufficientCreditsError, NotFoundError, Tally, TallyError } from "@tally/sdk";

const tally = new Tally({
  apiKey: requireEnv("TALLY_API_KEY"),
  baseUrl: process.env["TALLY_BASE_URL"] ?? "http://127.0.0.1:8787",
  timeoutMs: 10_000,
  maxRetries: 2,
});
const run = Date.now().toString(36);

async function demo(): Promise<void> {
  // Setup (what a purchase did before this quickstart starts): an account with credits.
  const account = await tally.accounts.create({ externalId: `countwerk-${run}`, name: "Countwerk customer" });
  await tally.credits.grant({ accountId: account.id, amount: 100, source: "purchase", reference: `ORDER_${run}` });
  await tally.prices.set("app.chat.reply", { unit: "credits", amount: 1 });
  console.log(`account ${account.id} granted 100 credits`);

  // resolveOrder(order_id) → orders.get(orderId): which account and product an order belongs to.
  let accountId = account.id;
  let productId: string | undefined;
  const order = await ifServed("orders (resolveOrder)", async () => {
    const pack = await tally.addons.create({ name: "Free starter pack", unit: "credits", creditQty: 10, priceAmount: 0, currency: "usd" });
    const purchase = await tally.addons.purchase(account.id, { addonId: pack.id });
    return tally.orders.get(purchase.order.id);
  });
  if (order !== undefined) {
    accountId = order.accountId;
    productId = order.productId ?? undefined;
    console.log(`resolved order ${order.id} → account ${order.accountId}, product ${order.productId ?? "-"}`);
  }

  // deduct({ account_id, operation, amount, usage_event_id, description }) — idempotent.
  const usageEventId = `turn-${run}-001`;
  const first = await tally.credits.deduct({ accountId, operation: "app.chat.reply", amount: 1, usageEventId, description: "Chat reply" });
  const again = await tally.credits.deduct({ accountId, operation: "app.chat.reply", amount: 1, usageEventId, description: "Chat reply" });
  console.log(`deducted 1 credit (txn ${first.transaction.id}); repeat alreadyProcessed=${again.alreadyProcessed}`);
  if (!again.alreadyProcessed || again.transaction.id !== first.transaction.id) throw new Error("deduct was not idempotent");

  // Minimal deduct: the price of the operation is used when no amount is given.
  const priced = await tally.credits.deduct({ accountId, operation: "app.chat.reply", usageEventId: `turn-${run}-002` });
  console.log(`deducted by operation price: ${-priced.transaction.amount} credit(s)`);

  // purchaseLinks({ ai_product_id, account_id }) → options.
  const links = await ifServed("purchase links", () => tally.purchaseLinks.list({ accountId, ...(productId !== undefined ? { productId } : {}) }));
  if (links !== undefined) console.log(`purchase options: ${links.options.map((o) => `${o.name} (${o.url})`).join(", ") || "none"}`);

  // balance(account_id)
  const balance = await tally.accounts.balance(accountId);
  console.log(`balance: ${balance.balance} posted, ${balance.reserved} reserved, ${balance.available} available`);

  // reserve({ account_id, amount, operation, validityMinutes, description }) → confirm with the actual amount.
  const validityMinutes = 5;
  const held = await tally.reservations.create({ accountId, amount: 10, operation: "app.image.generate", ttlSeconds: validityMinutes * 60, description: "Image generation" });
  const confirmed = await tally.reservations.confirm(held.id, { amount: 7, description: "Image generated" });
  console.log(`reserved 10, confirmed ${confirmed.reservation.confirmedAmount} (txn ${confirmed.transaction.id})`);

  // cancelReservation({ reservationId, reason })
  const other = await tally.reservations.create({ accountId, amount: 5, operation: "app.image.generate", ttlSeconds: 60 });
  const canceled = await tally.reservations.cancel(other.id, { reason: "generation failed" });
  console.log(`reservation ${canceled.reservation.id} ${canceled.reservation.status}`);

  // Errors carry code, status and details (INSUFFICIENT_CREDITS, ORDER_NOT_FOUND, …).
  try {
    await tally.credits.deduct({ accountId, operation: "app.chat.reply", amount: 1_000_000, usageEventId: `turn-${run}-big` });
    throw new Error("expected INSUFFICIENT_CREDITS");
  } catch (err) {
    if (!(err instanceof InsufficientCreditsError)) throw err;
    console.log(`expected error: ${err.code} ${err.status} ${JSON.stringify(err.details)}`);
  }
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

demo().then(
  () => console.log("countwerk quickstart: ok"),
  (err: unknown) => {
    if (err instanceof TallyError) console.error("FAILED:", err.code, err.status, err.message, err.requestId, err.details);
    else console.error("FAILED:", err);
    process.exit(1);
  },
);

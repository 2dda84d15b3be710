/**
 * credits.dev quickstart on Tally: accounts by id or external id, add/deduct credits,
 * reservations around an LLM call, usage records and summaries, plans, paginated and manual
 * transactions.
 *
 *   TALLY_BASE_URL=http://127.0.0.1:8787 TALLY_API_KEY=sk_… node --import tsx examples/credits-dev.ts
 */
import { NotFoundError, Tally, TallyError, type Account, type Balance, type Transaction } from "@tally/sdk";

const client = new Tally({ apiKey: requireEnv("TALLY_API_KEY"), baseUrl: process.env["TALLY_BASE_URL"] ?? "http://127.0.0.1:8787" });
const run = Date.now().toString(36);
const externalId = `user_456-${run}`;

async function main(): Promise<void> {
  // Accounts: create (on signup), list, get by accountId or externalId, balance.
  const newAccount: Account = await client.accounts.create({ name: "Alice", externalId, email: "alice@example.com", metadata: { plan: "free" } });
  const { items: accounts } = await client.accounts.list();
  const account = await client.accounts.get({ accountId: newAccount.id });
  const same = await client.accounts.get({ externalId });
  if (account.id !== same.id) throw new Error("lookup by id and externalId disagree");
  console.log(`created ${account.id} (${accounts.length} account(s) on the first page)`);

  // Add credits (after a payment) and deduct for simple spend.
  const addRes = await client.credits.grant({ externalId, amount: 1000, description: "Monthly plan purchase", source: "purchase", metadata: { paymentMethod: "stripe", paymentId: "pay_xxx" } });
  const deductRes = await client.credits.deduct({ accountId: addRes.transaction.accountId, amount: 50, description: "API usage", metadata: { action: "chat" } });
  console.log(`added 1000, deducted 50 → ${deductRes.balance.available} available`);

  // Balance (reserved + available).
  const balance: Balance = await client.accounts.balance({ externalId });
  console.log("Available credits:", balance.available, "reserved:", balance.reserved);

  // Reservations: reserve before the LLM call, confirm with the actual amount, or cancel.
  const reservation = await client.reservations.create({ externalId, amount: 500, metadata: { requestId: "req_123" } });
  const confirmRes = await client.reservations.confirm(reservation.id, { amount: 420 });
  console.log(`reserved 500, confirmed 420 → transaction ${confirmRes.transaction.id}`);
  const spare = await client.reservations.create({ externalId, amount: 100 });
  await client.reservations.cancel(spare.id);

  // Usage linked to the confirm's transaction (customer context), then list and summarize.
  await client.usage.record({
    context: "customer",
    transactionId: confirmRes.transaction.id,
    accountId: confirmRes.reservation.accountId,
    modelId: "gpt-4o",
    usageType: "text",
    inputTokens: 1000,
    outputTokens: 420,
    description: "Chat completion",
  });
  const usage = await client.usage.list({ externalId, context: "customer" });
  const summary = await client.usage.summary({ context: "customer", groupBy: "model" });
  console.log(`usage records: ${usage.items.length}; summary: ${summary.rows.map((r) => `${r.key}=${r.inputTokens}+${r.outputTokens} tokens`).join(", ")}`);

  // Plans: list, assign to an account.
  await ifServed("plans", async () => {
    const { items: plans } = await client.plans.list();
    const plan = plans[0];
    if (plan === undefined) {
      console.log("no plans defined");
      return;
    }
    const sub = await client.subscriptions.create({ externalId, planId: plan.id, startMode: "immediate" });
    console.log(`assigned plan ${plan.name}: subscription ${sub.id} ${sub.status}`);
  });

  // Transactions: offset pagination (items + pagination), and manual transactions.
  const { items, pagination } = await client.transactions.list({ accountId: account.id, limit: 20, offset: 0 });
  console.log(`transactions: ${items.length} of ${pagination?.total ?? "?"}`);
  const manual = await client.transactions.create({ externalId, amount: 100, type: "credit", description: "Refund", metadata: { reason: "support" } });
  const latest: Transaction = manual.transaction;
  console.log(`manual credit ${latest.id}: balance after ${latest.balanceAfter}`);
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
  () => console.log("credits.dev quickstart: ok"),
  (err: unknown) => {
    if (err instanceof TallyError) console.error("FAILED:", err.code, err.status, err.message, err.requestId, err.details);
    else console.error("FAILED:", err);
    process.exit(1);
  },
);

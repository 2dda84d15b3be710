/**
 * Meterly quickstart on Tally: customers with credit units, grants with references and
 * idempotency keys, balances per unit, guard(), add/use credits, reserve → commit / release
 * with a TTL, HMAC-signed keys, and errors with requestId/method/path.
 *
 *   TALLY_BASE_URL=http://127.0.0.1:8787 TALLY_API_KEY=sk_… node --import tsx examples/meterly.ts
 */
import { ConflictError, InsufficientCreditsError, Tally, TallyError, ValidationError } from "@tally/sdk";

const baseUrl = process.env["TALLY_BASE_URL"] ?? "http://127.0.0.1:8787";
const meterly = new Tally({ apiKey: requireEnv("TALLY_API_KEY"), baseUrl });
const run = Date.now().toString(36);
const customerExternalId = `user_123-${run}`;

async function runImageGeneration(): Promise<{ url: string }> {
  await new Promise((r) => setTimeout(r, 20));
  return { url: "https://cdn.example.com/image-42.png" };
}

async function renderVideo(fail: boolean): Promise<void> {
  await new Promise((r) => setTimeout(r, 10));
  if (fail) throw new Error("render farm unavailable");
}

async function main(): Promise<void> {
  // Create customer (with an Idempotency-Key: a retry returns the same customer).
  const customer = await meterly.accounts.create({ externalId: customerExternalId, metadata: { creditUnit: "image_credits" } }, { idempotencyKey: `customer-${customerExternalId}` });
  const replay = await meterly.accounts.create({ externalId: customerExternalId, metadata: { creditUnit: "image_credits" } }, { idempotencyKey: `customer-${customerExternalId}` });
  if (replay.id !== customer.id) throw new Error("idempotent create returned another customer");
  console.log(`customer ${customer.id}`);

  // Duplicate conflicts throw with status, requestId, method and path.
  try {
    await meterly.accounts.create({ externalId: customerExternalId });
    throw new Error("expected a conflict");
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    console.log("expected error:", { status: error.status, code: error.code, requestId: error.requestId, method: error.method, path: error.path, message: error.message });
  }

  // Grant credits with a stable reference and idempotency key.
  const grant = await meterly.credits.grant({
    externalId: customerExternalId,
    amount: 1000,
    unit: "image_credits",
    reference: `order_123-${run}`,
    description: "Starter image credits",
    idempotencyKey: `grant-order_123-${run}`,
  });
  const customerId = grant.transaction.accountId;

  // Balance of the default unit and of every unit.
  const balance = await meterly.accounts.balance(customerId, { unit: "image_credits" });
  await meterly.credits.grant({ accountId: customerId, amount: 600, unit: "gpu_seconds", reference: `gpu-${run}`, idempotencyKey: `grant-gpu-${run}` });
  const balances = await meterly.accounts.balances(customerId);
  console.log(`image_credits available: ${balance.available}`);
  for (const account of balances.balances) console.log(`  ${account.unit}: ${account.available}`);

  // guard: reserve, run, commit on success, release if the callback throws.
  const result = await meterly.guard(
    { accountId: customerId, amount: 25, unit: "image_credits", reference: "image-job-42", idempotencyKey: `reserve-image-job-42-${run}`, ttlSeconds: 300 },
    async () => runImageGeneration(),
  );
  console.log(`guarded image job: ${result.url}`);
  try {
    await meterly.guard({ accountId: customerId, amount: 1_000_000, unit: "image_credits", ttlSeconds: 300 }, async () => runImageGeneration());
    throw new Error("expected insufficient credits");
  } catch (error) {
    if (!(error instanceof InsufficientCreditsError)) throw error;
    console.log(`guard refused: ${error.code} (available ${error.available}, required ${error.required})`);
  }

  // addCredits / useCredits with reference + idempotency key.
  await meterly.credits.grant({ accountId: customerId, amount: 50, unit: "image_credits", reference: `bonus-${run}`, idempotencyKey: `add-bonus-${run}` });
  await meterly.credits.deduct({ accountId: customerId, amount: 10, unit: "image_credits", description: "thumbnail batch", idempotencyKey: `use-thumbs-${run}`, metadata: { reference: `thumbs-${run}` } });

  // reserve → commit, and reserve → release when the work fails.
  for (const fail of [false, true]) {
    const reservation = await meterly.reservations.create({ accountId: customerId, amount: 100, unit: "gpu_seconds", reference: `render-${fail ? 43 : 42}`, idempotencyKey: `reserve-render-${fail}-${run}`, ttlSeconds: 900 });
    try {
      await renderVideo(fail);
      await meterly.reservations.confirm(reservation.id, { idempotencyKey: `commit-render-${run}` });
      console.log(`render committed (${reservation.amount} gpu_seconds)`);
    } catch (error) {
      await meterly.reservations.cancel(reservation.id, { idempotencyKey: `release-render-${run}` });
      console.log(`render failed (${(error as Error).message}); reservation released`);
    }
  }
  const gpu = await meterly.accounts.balance(customerId, { unit: "gpu_seconds" });
  console.log(`gpu_seconds: ${gpu.available} available`);
  if (gpu.available !== 500) throw new Error(`expected 500 gpu_seconds, got ${gpu.available}`);

  // HMAC keys: the SDK signs every request when given the key id and its secret.
  try {
    const created = await meterly.apiKeys.create({ name: `signer-${run}`, type: "hmac" });
    if (created.keyId === undefined || created.secret === undefined) throw new Error("HMAC key without keyId/secret");
    const signed = new Tally({ apiKey: created.keyId, hmacSecret: created.secret, baseUrl });
    const viaHmac = await signed.accounts.balance(customerId, { unit: "image_credits" });
    console.log(`HMAC-signed balance read: ${viaHmac.available}`);
  } catch (error) {
    if (error instanceof ValidationError && /hmac/i.test(error.message)) console.log(`skipped: HMAC keys not yet served (${error.message})`);
    else throw error;
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
  () => console.log("meterly quickstart: ok"),
  (err: unknown) => {
    if (err instanceof TallyError) console.error("FAILED:", { status: err.status, code: err.code, requestId: err.requestId, method: err.method, path: err.path, message: err.message });
    else console.error("FAILED:", err);
    process.exit(1);
  },
);

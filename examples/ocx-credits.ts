/**
 * OCX Credits quickstart on Tally: applications as namespaces, idempotent users, grant /
 * consume / refund, cursor pagination, and the read-only end-user client with a JWT.
 *
 *   TALLY_BASE_URL=http://127.0.0.1:8787 TALLY_API_KEY=sk_… node --import tsx examples/ocx-credits.ts
 *   (with TALLY_ADMIN_TOKEN set, it first creates its own application)
 */
import { createHmac } from "node:crypto";
import { Tally, TallyError, NotFoundError, ConfigurationError } from "@tally/sdk/server";
import { TallyUserClient } from "@tally/sdk/client";

const baseUrl = process.env["TALLY_BASE_URL"] ?? "http://127.0.0.1:8787";
const run = Date.now().toString(36);

async function serverClient(): Promise<{ tally: Tally; appId: string }> {
  // An application is a namespace (OCX's applicationId) with its own keys and data.
  const adminToken = process.env["TALLY_ADMIN_TOKEN"];
  if (adminToken) {
    const admin = new Tally({ apiKey: adminToken, baseUrl });
    const { app, secretKey } = await admin.apps.create({ name: `ocx-${run}` });
    console.log(`created application ${app.id}`);
    return { tally: new Tally({ apiKey: secretKey, baseUrl }), appId: app.id };
  }
  const tally = new Tally({ apiKey: requireEnv("TALLY_API_KEY"), baseUrl });
  const app = await tally.app.get();
  console.log(`using application ${app.id}`);
  return { tally, appId: app.id };
}

async function main(): Promise<void> {
  const { tally: serverClient_, appId } = await serverClient();
  const userId = `user-${run}`;

  // createUser(app, user) — idempotent.
  const user = await serverClient_.accounts.upsertByExternalId(userId);
  const sameUser = await serverClient_.accounts.upsertByExternalId(userId);
  if (user.id !== sameUser.id) throw new Error("upsert is not idempotent");
  console.log(`user ${userId} → account ${user.id}`);

  // createTransaction(app, user, { delta, reason: grant | consume | refund })
  await serverClient_.credits.grant({ externalId: userId, amount: 100, source: "manual" });
  const consumed = await serverClient_.credits.deduct({ externalId: userId, amount: 10, idempotencyKey: `consume-${run}` });
  await serverClient_.credits.refund({ transactionId: consumed.transaction.id, amount: 10, reason: "refund" });
  const balance = await serverClient_.accounts.balance({ externalId: userId });
  console.log(`grant 100, consume 10, refund 10 → balance ${balance.balance}`);
  if (balance.balance !== 100) throw new Error(`expected 100, got ${balance.balance}`);

  // listUsers(app, cursor) and listTransactions(app, user, cursor) → nextCursor.
  for (let i = 0; i < 3; i++) await serverClient_.credits.grant({ externalId: userId, amount: 1, idempotencyKey: `drip-${run}-${i}` });
  let cursor: string | undefined;
  let pages = 0;
  let count = 0;
  do {
    const page = await serverClient_.transactions.list({ externalId: userId, limit: 2, ...(cursor !== undefined ? { cursor } : {}) });
    pages++;
    count += page.items.length;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  console.log(`walked ${count} transactions in ${pages} pages by cursor`);
  let users = 0;
  for await (const _ of serverClient_.accounts.list({ limit: 50 })) users++;
  console.log(`application has ${users} user(s)`);

  // UserClient with a JWT from your auth provider: own data, read-only.
  const jwtSecret = `ocx-demo-end-user-secret-${run}`;
  await serverClient_.app.update({ endUserAuth: { algorithm: "HS256", secret: jwtSecret } });
  const token = signJwt({ sub: userId, exp: Math.floor(Date.now() / 1000) + 600 }, jwtSecret);
  const client = new TallyUserClient({ baseUrl, appId, token }); // OCX's applicationId
  try {
    const own = await client.me.balance();
    const me = await client.me.get();
    const txns = await client.me.transactions({ limit: 5 });
    console.log(`end user ${me.externalId}: balance ${own.balance}, ${txns.items.length} recent transactions`);
  } catch (err) {
    if (err instanceof NotFoundError && err.code === "NOT_FOUND") console.log("skipped: end-user /v1/me not yet served");
    else throw err;
  }

  // The browser client never takes a secret key.
  try {
    new TallyUserClient({ baseUrl, token: "sk_live_this_must_never_reach_a_browser" });
    throw new Error("expected the client to refuse a secret key");
  } catch (err) {
    if (!(err instanceof ConfigurationError)) throw err;
    console.log("TallyUserClient refused a secret key, as it should");
  }
}

/** HS256 JWT, as Clerk/Auth0/your backend would issue it. */
function signJwt(claims: Record<string, unknown>, secret: string): string {
  const b64 = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const body = `${b64({ alg: "HS256", typ: "JWT" })}.${b64(claims)}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
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
  () => console.log("ocx credits quickstart: ok"),
  (err: unknown) => {
    if (err instanceof TallyError) console.error("FAILED:", err.code, err.status, err.message, err.requestId, err.details);
    else console.error("FAILED:", err);
    process.exit(1);
  },
);

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { startTestServer, type TestServer } from "../../server/src/testing.ts";

/*
 * The operator's console in real Chromium (Debian's `chromium`, headless) against a real server
 * with data seeded through the public API. Screenshots for the docs are written to docs/img when
 * missing, or always with TALLY_UPDATE_SCREENSHOTS=1.
 */

const CHROMIUM = process.env["CHROMIUM_PATH"] ?? "/usr/bin/chromium";
const HAVE_CHROMIUM = existsSync(CHROMIUM);
if (!HAVE_CHROMIUM) {
  console.warn(
    `\n${"!".repeat(78)}\n!! WARNING: ${CHROMIUM} not found: the dashboard browser tests are SKIPPED.\n!! Install it (Debian: apt-get install -y chromium) to run them.\n${"!".repeat(78)}\n`,
  );
}

const PACKAGE_DIR = join(import.meta.dirname, "..");
const DIST_INDEX = join(PACKAGE_DIR, "dist", "index.html");
const DOCS_IMG = join(PACKAGE_DIR, "..", "..", "docs", "img");
const UPDATE_SCREENSHOTS = process.env["TALLY_UPDATE_SCREENSHOTS"] === "1";

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

/** `npm install` builds the dashboard; a test run after editing its sources rebuilds it first. */
async function ensureBuilt(): Promise<void> {
  const sourcesMs = Math.max(newestMtime(join(PACKAGE_DIR, "src")), statSync(join(PACKAGE_DIR, "index.html")).mtimeMs);
  if (existsSync(DIST_INDEX) && statSync(DIST_INDEX).mtimeMs >= sourcesMs) return;
  // A separate process: vitest sets NODE_ENV=test, which would bundle React's development build.
  const vite = join(PACKAGE_DIR, "..", "..", "node_modules", "vite", "bin", "vite.js");
  const result = spawnSync(process.execPath, [vite, "build", "--logLevel", "warn"], { cwd: PACKAGE_DIR, env: { ...process.env, NODE_ENV: "production" }, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`building the dashboard failed:\n${result.stdout}\n${result.stderr}`);
}

interface Seeded {
  secretKey: string;
  appId: string;
  alice: { id: string; email: string };
  revokableKeyId: string;
  revokableKey: string;
  /** Credits granted in the last 30 days, as the overview should total them. */
  grantedTotal: number;
}

const DAY_MS = 86_400_000;
const fmt = (n: number) => new Intl.NumberFormat("en-US").format(n);

/** The server's clock: real time minus `shiftMs`, so seeding can write two weeks of history. */
const clock = { shiftMs: 0, nowMs: () => Date.now() - clock.shiftMs };

async function seed(server: TestServer): Promise<Seeded> {
  const { appId, secretKey } = await server.createApp("Acme AI");
  let n = 0;
  const api = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(server.url + path, {
      method,
      headers: { authorization: `Bearer ${secretKey}`, "content-type": "application/json", "idempotency-key": `seed-${n++}` },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as T;
  };
  let grantedTotal = 0;
  const grant = async (body: Record<string, unknown> & { amount: number }) => {
    grantedTotal += body.amount;
    await api("POST", "/v1/credits/grant", body);
  };

  // More accounts than one page (20), so pagination is exercised.
  const names = ["Alice Martin", "Bob Chen", "Chloé Dubois", "Dmitri Ivanov", "Emeka Okafor", "Fatima Zahra", "Grace Hopper", "Hiro Tanaka"];
  for (let i = 0; i < 26; i++) {
    const name = names[i % names.length]! + (i >= names.length ? ` ${i}` : "");
    await api("PUT", `/v1/accounts/external/user_${String(i).padStart(3, "0")}`, { name, email: `user${i}@example.com` });
  }
  const alice = await api<{ id: string; email: string }>("PUT", "/v1/accounts/external/alice", { name: "Alice Cooper", email: "alice@acme.test", metadata: { plan: "pro" } });

  await api("PUT", "/v1/prices/app.chat.reply", { unit: "credits", amount: 5 });
  await api("PUT", "/v1/prices/gpt-4o", { unit: "credits", modelId: "gpt-4o", inputPerMillion: 2500, outputPerMillion: 10000 });
  await api("PUT", "/v1/prices/claude-sonnet", { unit: "credits", modelId: "claude-sonnet", inputPerMillion: 3000, outputPerMillion: 15000 });

  // Two weeks of history: top-ups every few days, usage every day.
  const models = ["gpt-4o", "claude-sonnet", "gpt-4o-mini"];
  await api("PUT", "/v1/prices/gpt-4o-mini", { unit: "credits", modelId: "gpt-4o-mini", inputPerMillion: 150, outputPerMillion: 600 });
  try {
    for (let day = 14; day >= 1; day--) {
      clock.shiftMs = day * DAY_MS;
      const user = `user_00${day % 6}`;
      if (day === 14) for (let u = 0; u < 6; u++) await grant({ externalId: `user_00${u}`, amount: 400, source: "purchase" });
      if (day % 4 === 2) await grant({ externalId: user, amount: 100 + day * 25, source: "purchase" });
      if (day % 5 === 0 || day === 14) await grant({ accountId: alice.id, amount: 1500, source: "plan" });
      for (let k = 0; k < 3; k++) {
        await api("POST", "/v1/usage", {
          accountId: alice.id,
          modelId: models[(day + k) % models.length],
          usageType: "text",
          inputTokens: 8_000 + ((day * 7919 + k * 104_729) % 30_000),
          outputTokens: 2_000 + ((day * 31 + k * 17) % 6_000),
          charge: true,
          idempotencyKey: `hist-${day}-${k}`,
        });
      }
      await api("POST", "/v1/credits/deduct", { externalId: user, amount: 20 + ((day * 37) % 90), operation: "app.chat.reply", idempotencyKey: `hist-deduct-${day}` });
    }
  } finally {
    clock.shiftMs = 0;
  }

  const inAMonth = new Date(Date.now() + 30 * DAY_MS).toISOString();
  await grant({ accountId: alice.id, amount: 5000, source: "purchase", reference: "order_1001" });
  await grant({ accountId: alice.id, amount: 1000, source: "promotional", expiresAt: inAMonth, priority: -1 });
  for (let i = 0; i < 6; i++) {
    await grant({ externalId: `user_00${i}`, amount: 200 + i * 150 });
    await api("POST", "/v1/credits/deduct", { externalId: `user_00${i}`, amount: 40 + i * 20, operation: "app.chat.reply", idempotencyKey: `turn-${i}` });
  }
  // One customer about to run out, for the low-balance list.
  await grant({ externalId: "user_007", amount: 100 });
  await api("POST", "/v1/credits/deduct", { externalId: "user_007", amount: 88, operation: "app.chat.reply", idempotencyKey: "low-1" });
  await api("POST", "/v1/credits/deduct", { accountId: alice.id, amount: 1200, operation: "app.image.generate", idempotencyKey: "alice-img-1" });
  for (const [i, modelId] of ["gpt-4o", "claude-sonnet", "gpt-4o", "gpt-4o", "claude-sonnet"].entries()) {
    await api("POST", "/v1/usage", { accountId: alice.id, modelId, usageType: "text", inputTokens: 20_000 + i * 5000, outputTokens: 4000 + i * 1000, charge: true, idempotencyKey: `use-${i}` });
  }
  await api("POST", "/v1/reservations", { accountId: alice.id, amount: 300, ttlSeconds: 3600, operation: "app.agent.run" });
  await api("POST", "/v1/reservations", { externalId: "user_001", amount: 25, ttlSeconds: 3600, operation: "app.chat.reply" });

  // Commerce: a catalog, a subscription (its period grants the plan's credits) and a webhook
  // endpoint whose deliveries stay pending (jobs are off in this test).
  await api("POST", "/v1/webhook-endpoints", { url: "https://hooks.example.invalid/tally", events: ["credits.granted", "balance.low"], balanceLowThreshold: 50 });
  const product = await api<{ id: string }>("POST", "/v1/products", { name: "Acme Chat", description: "The assistant" });
  const plan = await api<{ id: string }>("POST", "/v1/plans", {
    productId: product.id,
    name: "Pro monthly",
    priceAmount: 2000,
    currency: "usd",
    interval: "month",
    credits: [{ unit: "credits", amount: 5000 }],
    features: ["chat", "images"],
  });
  await api("POST", "/v1/addons", { productId: product.id, name: "1k credit pack", unit: "credits", creditQty: 1000, priceAmount: 500, currency: "usd", expiresInDays: 90 });
  await api("POST", "/v1/subscriptions", { accountId: alice.id, planId: plan.id, startMode: "immediate" });
  grantedTotal += 5000;

  const created = await api<{ apiKey: { id: string }; key: string }>("POST", "/v1/api-keys", { name: "ci deploy key", scopes: ["read", "write"] });
  return { secretKey, appId, alice: { id: alice.id, email: alice.email }, revokableKeyId: created.apiKey.id, revokableKey: created.key, grantedTotal };
}

describe.skipIf(!HAVE_CHROMIUM)("the dashboard in Chromium", () => {
  let server: TestServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let data: Seeded;
  /** Console errors and uncaught exceptions since the page opened; every test asserts it is empty. */
  const errors: string[] = [];

  const shot = async (name: string, fullPage = false) => {
    const file = join(DOCS_IMG, `${name}.png`);
    if (!UPDATE_SCREENSHOTS && existsSync(file)) return;
    mkdirSync(DOCS_IMG, { recursive: true });
    await page.screenshot({ path: file, fullPage });
  };
  const heading = (name: string) => page.getByRole("heading", { level: 1, name });
  const nav = (name: string) => page.getByRole("navigation", { name: "Main" }).getByRole("link", { name, exact: true });

  beforeAll(async () => {
    await ensureBuilt();
    server = await startTestServer({ jobs: false, clock });
    data = await seed(server);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    context = await browser.newContext({ viewport: { width: 1280, height: 860 }, locale: "en-GB", timezoneId: "UTC" });
    page = await context.newPage();
    page.setDefaultTimeout(10_000);
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => errors.push(`pageerror: ${e.message}`));
    // Names the request behind a "Failed to load resource" console line.
    page.on("response", (r) => {
      if (r.status() >= 400) errors.push(`http ${r.status()}: ${r.request().method()} ${r.url()}`);
    });
  });

  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  it("signs in with a secret key kept in sessionStorage (never in the URL) and shows the overview with its charts", async () => {
    await page.goto(`${server.url}/dashboard`);
    await page.getByLabel("Secret key or admin token").fill(data.secretKey);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => heading("Overview").isVisible()).toBe(true);

    expect(page.url()).not.toContain(data.secretKey);
    const stored = await page.evaluate(() => sessionStorage.getItem("tally.dashboard.session"));
    expect(stored).toContain(data.secretKey);

    const granted = page.getByRole("listitem").filter({ hasText: "Granted" });
    await expect.poll(() => granted.textContent()).toContain(new Intl.NumberFormat("en-US").format(data.grantedTotal));
    await expect.poll(() => page.locator(".recharts-wrapper").count()).toBe(2);
    const usage = page.getByRole("region", { name: "Usage by model" }).first();
    await expect.poll(() => usage.textContent()).toContain("gpt-4o");
    await expect.poll(() => page.getByRole("region", { name: "Top accounts by spend" }).first().textContent()).toContain("Alice Cooper");
    await expect.poll(() => page.getByRole("region", { name: "Reservations currently held" }).textContent()).toContain("app.agent.run");
    await expect.poll(() => page.getByRole("region", { name: "Accounts with a low available balance" }).textContent()).toContain("Hiro Tanaka");
    await shot("overview", true);

    // An invalid unit is never sent (not even on blur): the last valid unit stays in use.
    const unitField = page.getByLabel("Unit", { exact: true });
    await unitField.fill("Bad Unit!");
    await unitField.blur();
    await expect.poll(() => page.getByRole("alert").filter({ hasText: "still showing credits" }).count()).toBe(1);
    expect(await page.locator(".page-header").textContent()).toContain("in credits");
    // The "Below" field can be emptied: empty means the server's default (100), not 0.
    const below = page.getByLabel("Below", { exact: true });
    await below.fill("");
    expect(await below.inputValue()).toBe("");
    await page.waitForLoadState("networkidle");
    await expect.poll(() => page.getByRole("region", { name: "Accounts with a low available balance" }).textContent()).toContain("Hiro Tanaka");
    await unitField.fill("credits");
    await unitField.blur();
    expect(errors).toEqual([]);
  });

  it("finds an account by email with the server-side search, pages through accounts, and opens the account", async () => {
    await nav("Accounts").click();
    await heading("Accounts").waitFor();
    const rows = page.getByRole("region", { name: "Accounts" }).locator("tbody tr");
    await expect.poll(() => rows.count()).toBe(20);
    await page.getByRole("button", { name: "Next →" }).click();
    await expect.poll(() => page.getByText("Page 2").isVisible()).toBe(true);
    await expect.poll(() => rows.count()).toBe(7);
    await page.getByRole("button", { name: "← Previous" }).click();
    await expect.poll(() => rows.count()).toBe(20);
    await shot("accounts");

    expect(await page.getByLabel("Search accounts").getAttribute("maxlength")).toBe("255");
    await page.getByLabel("Search accounts").fill("alice@acme");
    await expect.poll(() => rows.count()).toBe(1);
    // The search runs on the server: the address carries the term, never a key.
    expect(page.url()).toContain("q=alice%40acme");
    await rows.first().getByRole("link", { name: "Alice Cooper" }).click();
    await heading("Alice Cooper").waitFor();
    expect(page.url()).toContain(`/dashboard/accounts/${data.alice.id}`);
    expect(errors).toEqual([]);
  });

  it("grants credits and refunds part of a charge, each after a confirmation step, and sees the balance and the ledger change", async () => {
    const available = page.getByTestId("available-credits");
    // 6,000 granted − 1,200 deducted − usage charges − 300 held.
    const before = Number((await available.textContent())!.replace(/[^0-9]/g, ""));
    expect(before).toBeGreaterThan(0);
    const ledgerRows = page.getByTestId("ledger-row");
    await expect.poll(() => ledgerRows.count()).toBeGreaterThan(0);
    const firstBefore = await ledgerRows.first().textContent();
    await shot("account-detail");

    await page.getByRole("button", { name: "Grant credits" }).click();
    const dialog = page.getByRole("dialog", { name: "Grant credits" });
    await dialog.getByLabel("Amount").fill("2500");
    await dialog.getByLabel("Description (optional)").fill("Goodwill after outage");
    await dialog.getByRole("button", { name: "Review" }).click();
    await expect.poll(() => dialog.textContent()).toContain("Grant 2,500 credits");
    await dialog.getByRole("button", { name: "Grant 2,500 credits" }).click();
    await dialog.waitFor({ state: "hidden" });

    await expect.poll(async () => Number((await available.textContent())!.replace(/[^0-9]/g, ""))).toBe(before + 2500);
    // The ledger re-reads: the newest row is the grant, with the new balance after it.
    await expect.poll(() => ledgerRows.first().textContent()).not.toBe(firstBefore);
    const first = (await ledgerRows.first().textContent()) ?? "";
    expect(first).toContain("+2,500");
    expect(first).toContain("Goodwill after outage");
    await expect.poll(() => page.getByRole("status").filter({ hasText: "Granted 2,500 credits." }).count()).toBe(1);
    // The dialog starts blank the next time, not with the previous grant.
    await page.getByRole("button", { name: "Grant credits" }).click();
    await expect.poll(() => dialog.getByLabel("Amount").inputValue()).toBe("");
    await expect.poll(() => dialog.getByLabel("Description (optional)").inputValue()).toBe("");
    await expect.poll(() => dialog.getByLabel("Unit").inputValue()).toBe("credits");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    await dialog.waitFor({ state: "hidden" });

    // The grant went through the public API with the dashboard's per-action idempotency key.
    const res = await fetch(`${server.url}/v1/transactions?accountId=${data.alice.id}&type=grant&limit=1`, { headers: { authorization: `Bearer ${data.secretKey}` } });
    const txns = (await res.json()) as { items: Array<{ amount: number; idempotencyKey: string | null }> };
    expect(txns.items[0]?.amount).toBe(2500);
    expect(txns.items[0]?.idempotencyKey).toMatch(/^dash-grant-/);

    // Refund part of a charge from its ledger row.
    const charge = ledgerRows.filter({ has: page.getByRole("button", { name: /^Refund / }) }).first();
    const chargeLabel = (await charge.getByRole("button", { name: /^Refund / }).getAttribute("aria-label"))!;
    const chargeId = chargeLabel.replace(/^Refund /, "");
    const original = await fetch(`${server.url}/v1/transactions/${chargeId}`, { headers: { authorization: `Bearer ${data.secretKey}` } }).then((r) => r.json() as Promise<{ amount: number }>);
    const spent = Math.abs(original.amount);
    expect(spent).toBeGreaterThan(5);
    await charge.getByRole("button", { name: /^Refund / }).click();
    const refund = page.getByRole("dialog", { name: "Refund a charge" });
    await expect.poll(() => refund.textContent()).toContain(`Up to ${fmt(spent)}`);
    await refund.getByLabel("Amount (optional)").fill("5");
    await refund.getByRole("button", { name: "Review" }).click();
    await refund.getByRole("button", { name: "Refund 5 credits" }).click();
    await refund.waitFor({ state: "hidden" });
    await expect.poll(async () => Number((await available.textContent())!.replace(/[^0-9]/g, ""))).toBe(before + 2505);
    await expect.poll(() => ledgerRows.first().textContent()).toContain("refund of");

    // Refunding the same charge again offers what is left, not the whole charge, and says what
    // the server refunded; then the charge has nothing left and loses its Refund button.
    const left = spent - 5;
    await page.getByRole("button", { name: chargeLabel, exact: true }).click();
    await expect.poll(() => refund.textContent()).toContain(`Up to ${fmt(left)};`);
    expect(await refund.textContent()).toContain("5 refunded already");
    await refund.getByRole("button", { name: "Review" }).click();
    await refund.getByRole("button", { name: `Refund what is left (${fmt(left)} credits)` }).click();
    await refund.waitFor({ state: "hidden" });
    await expect.poll(() => page.getByRole("status").filter({ hasText: `Refunded ${fmt(left)} credits.` }).count()).toBe(1);
    await expect.poll(async () => Number((await available.textContent())!.replace(/[^0-9]/g, ""))).toBe(before + 2500 + spent);
    await expect.poll(() => page.getByRole("button", { name: chargeLabel, exact: true }).count()).toBe(0);

    // Lots show the new grant and the expiring promotional lot.
    await page.getByRole("tab", { name: "Lots" }).click();
    await expect.poll(() => page.getByRole("region", { name: "Lots of credits, newest first" }).textContent()).toContain("promotional");
    expect(errors).toEqual([]);
  });

  it("creates a key whose secret is shown once, then revokes a key after confirming; it is refused from then on", async () => {
    await nav("API keys").click();
    await heading("API keys").waitFor();
    await page.getByLabel("Name").fill("made in the dashboard");
    await page.getByRole("checkbox", { name: "admin" }).uncheck();
    await page.getByRole("button", { name: "Create key" }).click();
    const secret = (await page.getByTestId("secret-value").textContent()) ?? "";
    expect(secret).toMatch(/^sk_/);
    const works = await fetch(`${server.url}/v1/accounts?limit=1`, { headers: { authorization: `Bearer ${secret}` } });
    expect(works.status).toBe(200);
    await page.getByRole("button", { name: "I have saved it" }).click();
    expect(await page.getByTestId("secret-value").count()).toBe(0);
    expect(await page.locator("body").textContent()).not.toContain(secret);

    const row = page.locator(`[data-key-id="${data.revokableKeyId}"]`);
    await row.waitFor();
    await shot("keys");
    await row.getByRole("button", { name: "Revoke key ci deploy key" }).click();
    const dialog = page.getByRole("dialog", { name: "Revoke this key?" });
    await dialog.getByRole("button", { name: "Revoke key" }).click();
    await dialog.waitFor({ state: "hidden" });
    await expect.poll(() => row.textContent()).toContain("revoked");

    const res = await fetch(`${server.url}/v1/accounts`, { headers: { authorization: `Bearer ${data.revokableKey}` } });
    expect(res.status).toBe(401);
    expect(errors).toEqual([]);
  });

  it("opens every page and tab, creates an add-on, shows webhook deliveries and cancels a subscription, with no console errors", async () => {
    const pages: Array<[string, string]> = [
      ["Overview", "Overview"],
      ["Accounts", "Accounts"],
      ["Catalog & prices", "Catalog & prices"],
      ["API keys", "API keys"],
      ["Webhooks", "Webhooks"],
      ["Settings", "Settings"],
    ];
    for (const [link, title] of pages) {
      await nav(link).click();
      await heading(title).waitFor();
      await page.waitForLoadState("networkidle");
    }
    // End-user auth: turned on with RS256 and a JWKS URL, then off; the form goes back to its defaults.
    await page.getByLabel("Algorithm").selectOption("RS256");
    await page.getByRole("textbox", { name: "JWKS URL" }).fill("https://auth.example.invalid/.well-known/jwks.json");
    await page.getByRole("button", { name: "Save end-user authentication" }).click();
    await expect.poll(() => page.getByTestId("end-user-auth-status").textContent()).toContain("RS256");
    await page.getByRole("button", { name: "Turn off" }).click();
    await page.getByRole("dialog", { name: "Turn off end-user authentication?" }).getByRole("button", { name: "Turn off" }).click();
    await expect.poll(() => page.getByTestId("end-user-auth-status").textContent()).toContain("off");
    await expect.poll(() => page.getByLabel("Algorithm").inputValue()).toBe("HS256");
    await expect.poll(() => page.getByRole("textbox", { name: "JWKS URL" }).count()).toBe(0);
    // Prices and the commerce catalog seeded through the API are listed.
    await nav("Catalog & prices").click();
    await expect.poll(() => page.getByRole("region", { name: "Prices by key" }).textContent()).toContain("claude-sonnet");
    await expect.poll(() => page.getByRole("region", { name: "Plans", exact: true }).first().textContent()).toContain("Pro monthly");
    await expect.poll(() => page.getByRole("region", { name: "Add-ons", exact: true }).first().textContent()).toContain("1k credit pack");
    // Create an add-on from its form.
    const addons = page.getByRole("region", { name: "Add-ons", exact: true }).first();
    await addons.getByText("New add-on").first().click();
    await addons.getByLabel("Name").fill("Weekend pack");
    await addons.getByLabel("Credits", { exact: true }).fill("250");
    await addons.getByLabel("Price").fill("0");
    await addons.getByRole("button", { name: "New add-on" }).click();
    await expect.poll(() => addons.textContent()).toContain("Weekend pack");
    // The form is emptied after a create, so a second click cannot make a duplicate.
    await expect.poll(() => addons.getByLabel("Name").inputValue()).toBe("");
    await expect.poll(() => addons.getByLabel("Credits", { exact: true }).inputValue()).toBe("");
    await expect.poll(() => addons.getByLabel("Price").inputValue()).toBe("");
    // Webhook endpoints and their delivery log.
    await nav("Webhooks").click();
    await page.getByRole("button", { name: "Deliveries" }).click();
    await expect.poll(() => page.getByRole("region", { name: "Delivery attempts, oldest first" }).textContent()).toContain("credits.granted");
    // A reload of a deep link keeps the session (sessionStorage) and the page (SPA fallback).
    await page.goto(`${server.url}/dashboard/accounts/${data.alice.id}`);
    await heading("Alice Cooper").waitFor();
    for (const tab of ["Reservations", "Usage", "Subscriptions", "Orders"]) {
      await page.getByRole("tab", { name: tab }).click();
      await page.waitForLoadState("networkidle");
    }
    await page.getByRole("tab", { name: "Subscriptions" }).click();
    await expect.poll(() => page.getByRole("tabpanel").textContent()).toContain("active");
    await page.getByRole("tabpanel").getByRole("button", { name: /^Cancel subscription/ }).click();
    await page.getByRole("dialog", { name: "Cancel this subscription?" }).getByRole("button", { name: "Cancel subscription" }).click();
    await expect.poll(() => page.getByRole("tabpanel").textContent()).toContain("pending_cancel");
    // Already ending at period end, it can still be cancelled now.
    await page.getByRole("tabpanel").getByRole("button", { name: /^Cancel subscription .* now$/ }).click();
    const cancelNow = page.getByRole("dialog", { name: "Cancel this subscription now?" });
    await cancelNow.getByRole("button", { name: "Cancel now" }).click();
    await cancelNow.waitFor({ state: "hidden" });
    // Poll for the new state itself: while the list reloads the panel says "Loading…", which
    // also lacks "pending_cancel".
    await expect.poll(() => page.getByRole("tabpanel").textContent()).toContain("canceled");
    expect(await page.getByRole("tabpanel").textContent()).not.toContain("pending_cancel");
    expect(await page.getByRole("tabpanel").getByRole("button", { name: /^Cancel subscription/ }).count()).toBe(0);
    expect(errors).toEqual([]);
  });

  it("signs in with the admin token, lists applications and switches to one", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Secret key or admin token").fill(server.adminToken);
    await page.getByRole("button", { name: "Sign in" }).click();
    await heading("Overview").waitFor();
    const switcher = page.getByLabel("Application");
    await switcher.selectOption(data.appId);
    await expect.poll(() => page.getByRole("region", { name: "Top accounts by spend" }).first().textContent()).toContain("Alice Cooper");
    await nav("Applications").click();
    await heading("Applications").waitFor();
    expect(await page.getByRole("region", { name: "Applications", exact: true }).textContent()).toContain("Acme AI");
    expect(errors).toEqual([]);
  });

  it("is usable on a phone-sized screen: the menu opens and navigates", async () => {
    await page.setViewportSize({ width: 375, height: 812 });
    await page.getByRole("button", { name: "Menu" }).click();
    await nav("Accounts").click();
    await heading("Accounts").waitFor();
    expect(await page.getByRole("navigation", { name: "Main" }).isVisible()).toBe(false);
    // Measured once the page has its rows, and polled as on the overview below: CI once caught
    // the page 1 px wider than the screen for a moment while it was still laying out.
    await page.getByRole("region", { name: "Accounts" }).locator("tbody tr").first().waitFor();
    await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
    await page.getByRole("button", { name: "Menu" }).click();
    await nav("Overview").click();
    await heading("Overview").waitFor();
    await expect.poll(() => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
    await shot("phone-overview", true);

    // Pages with wide tables (and their visually hidden "Actions" headers) scroll inside the
    // table, never the page sideways.
    const sideways = () => page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
    for (const [link, title, ready] of [
      ["Catalog & prices", "Catalog & prices", () => page.getByRole("region", { name: "Prices by key" }).waitFor()],
      ["API keys", "API keys", () => page.locator("[data-key-id]").first().waitFor()],
      ["Webhooks", "Webhooks", async () => {
        await page.getByRole("button", { name: "Deliveries" }).click();
        await page.getByRole("region", { name: "Delivery attempts, oldest first" }).waitFor();
      }],
    ] as Array<[string, string, () => Promise<void>]>) {
      await page.getByRole("button", { name: "Menu" }).click();
      await nav(link).click();
      await heading(title).waitFor();
      await ready();
      await expect.poll(sideways).toBeLessThanOrEqual(0);
    }
    await page.goto(`${server.url}/dashboard/accounts/${data.alice.id}`);
    await heading("Alice Cooper").waitFor();
    await page.getByTestId("ledger-row").first().waitFor();
    await expect.poll(sideways).toBeLessThanOrEqual(0);
    expect(errors).toEqual([]);
  });
});

/**
 * `@tally/sdk/server` (and `@tally/sdk`): the full client for trusted server code.
 *
 * @packageDocumentation
 */
export { Tally, type TallyOptions } from "./tally.js";
export type { Hold, GuardOptions } from "./guard.js";
export * from "./shared.js";
export { signRequest, sha256Hex, hmacSha256Hex } from "./core/hmac.js";
export { Accounts } from "./resources/accounts.js";
export { ApiKeys, AppResource, Apps } from "./resources/apps.js";
export { Entitlements, Plans, Products, Subscriptions } from "./resources/catalog.js";
export { Addons, Checkout, Invoices, Orders, PurchaseLinksResource } from "./resources/commerce.js";
export { Credits } from "./resources/credits.js";
export { Prices, Units } from "./resources/prices.js";
export { Reservations } from "./resources/reservations.js";
export { Transactions } from "./resources/transactions.js";
export { Usage } from "./resources/usage.js";
export { WebhookEndpoints } from "./resources/webhooks.js";

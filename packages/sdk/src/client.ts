/**
 * `@tally/sdk/client`: the browser-safe, read-only client (`TallyUserClient`) for an end
 * user's own data. Contains no server-only code.
 *
 * @packageDocumentation
 */
export { TallyUserClient, Me, type TallyUserClientOptions } from "./user-client.js";
export * from "./shared.js";

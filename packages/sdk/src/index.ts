/**
 * `@tally/sdk`: the Tally client. Same exports as `@tally/sdk/server`; browsers use
 * `@tally/sdk/client`.
 *
 * @packageDocumentation
 */
export * from "./server.js";

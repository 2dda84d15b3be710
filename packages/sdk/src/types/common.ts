/** Shapes shared by every resource. */

/** String keys and string values, at most 50 keys (keys ≤ 40 chars, values ≤ 500). */
export type Metadata = Record<string, string>;

/** An ISO 8601 UTC timestamp, e.g. `2026-11-21T10:00:00.000Z`. */
export type Timestamp = string;

/**
 * Names an account by Tally id or by your own id, exactly one of them.
 *
 * @example
 * ```ts
 * const byId: AccountRef = { accountId: "acct_01J…" };
 * const byExternal: AccountRef = { externalId: "user_456" };
 * ```
 */
export type AccountRef = { accountId: string; externalId?: never } | { externalId: string; accountId?: never };

/** Where a method takes one account: its `acct_…` id, or an {@link AccountRef}. */
export type AccountSelector = string | AccountRef;

/** `AccountRef` made optional: lists filter by account when one is given. */
export type OptionalAccountRef = { accountId?: string; externalId?: never } | { externalId?: string; accountId?: never };

/** Source of a grant lot. */
export type GrantSource = "purchase" | "promotional" | "plan" | "addon" | "refund" | "manual";

/** Result of a `GET` that returns a bare list of items (no pagination). */
export interface ItemList<T> {
  items: T[];
}

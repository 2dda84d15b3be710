import type { KeyScope } from "../store/records.ts";

/** Who is calling, as established by authentication. */
export type Principal =
  | { kind: "admin" }
  | { kind: "key"; appId: string; keyId: string; keyType: "secret" | "hmac"; scopes: readonly KeyScope[] }
  | { kind: "endUser"; appId: string; subject: string };

/**
 * Who may call a route:
 *  - `public`: anyone (health, docs, metrics);
 *  - `admin`: the operator's admin token only;
 *  - `app`: a key of an application (with `scope`), or the admin token naming the application
 *    in the `tally-app` header;
 *  - `me`: an end user's token (read-only, own account).
 */
export type RouteAuth = "public" | "admin" | "app" | "me";

export const SCOPE_RANK: Record<KeyScope, number> = { read: 0, write: 1, admin: 2 };

export function hasScope(scopes: readonly KeyScope[], needed: KeyScope): boolean {
  // Scopes are cumulative only when granted explicitly: a key lists each scope it has.
  return scopes.includes(needed);
}

/**
 * The dashboard's only way to the server: the public API, with the key the operator signed in
 * with. Nothing here is privileged; the console can do exactly what that key can do.
 */

export interface Session {
  /** `key`: an application's secret key; `admin`: the operator's admin token. */
  kind: "key" | "admin";
  token: string;
  /** The application an admin acts on (sent as `tally-app`); a key's own application otherwise. */
  appId?: string;
  appName?: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly requestId: string | undefined,
    readonly details: Record<string, unknown> | undefined,
  ) {
    super(message);
  }

  /** The route does not exist on this server (a feature it does not have), not a missing record. */
  get isMissingRoute(): boolean {
    return this.status === 404 && this.code === "NOT_FOUND" && /^No route /.test(this.message);
  }
}

export type Query = Record<string, string | number | boolean | undefined | null>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** Sent as `Idempotency-Key`; the caller makes one per user action and reuses it on retry. */
  idempotencyKey?: string;
  signal?: AbortSignal;
}

export function withQuery(path: string, query: Query | undefined): string {
  if (query === undefined) return path;
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== "") params.set(k, String(v));
  const s = params.toString();
  return s === "" ? path : `${path}${path.includes("?") ? "&" : "?"}${s}`;
}

export async function request<T>(session: Session, method: string, path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${session.token}`, accept: "application/json" };
  if (session.kind === "admin" && session.appId !== undefined) headers["tally-app"] = session.appId;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  if (options.idempotencyKey !== undefined) headers["idempotency-key"] = options.idempotencyKey;
  let response: Response;
  try {
    response = await fetch(withQuery(path, options.query), {
      method,
      headers,
      body: options.body === undefined ? null : JSON.stringify(options.body),
      credentials: "omit",
      cache: "no-store",
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (error) {
    if (error instanceof DOMException && error.name === "AbortError") throw error;
    throw new ApiError(0, "NETWORK", "The server could not be reached. Check that it is running.", undefined, undefined);
  }
  const text = await response.text();
  let json: unknown = undefined;
  try {
    json = text === "" ? undefined : JSON.parse(text);
  } catch {
    // Not JSON: reported below with the status.
  }
  if (!response.ok) {
    const e = (json as { error?: { code?: string; message?: string; requestId?: string; details?: Record<string, unknown> } } | undefined)?.error;
    throw new ApiError(response.status, e?.code ?? "HTTP_" + response.status, e?.message ?? response.statusText, e?.requestId ?? response.headers.get("x-request-id") ?? undefined, e?.details);
  }
  return json as T;
}

/** One key per user action, reused if that same action is retried. */
export function newIdempotencyKey(action: string): string {
  // getRandomValues, not randomUUID: the latter exists only in secure contexts, and an operator
  // may well open the console over plain HTTP on a private network.
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return `dash-${action}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

// ---- Shapes of the contract (see /openapi.json for the full reference) ----

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
  hasMore: boolean;
}

export interface App {
  id: string;
  name: string;
  endUserAuth: null | {
    algorithm: "HS256" | "RS256" | "ES256";
    subjectClaim: string;
    issuer?: string;
    audience?: string;
    jwksUrl?: string;
    hasSecret: boolean;
    hasPublicKey: boolean;
  };
  createdAt: string;
}

export interface Account {
  id: string;
  externalId: string | null;
  name: string | null;
  email: string | null;
  metadata: Record<string, string>;
  createdAt: string;
}

export interface Balance {
  accountId: string;
  unit: string;
  balance: number;
  reserved: number;
  available: number;
  expiringNext?: { amount: number; expiresAt: string };
}

export interface Allocation {
  grantId: string;
  amount: number;
  source: string;
  expiresAt: string | null;
}

export interface Transaction {
  id: string;
  accountId: string;
  unit: string;
  type: string;
  amount: number;
  balanceAfter: number;
  idempotencyKey: string | null;
  reference: string | null;
  operation: string | null;
  description: string | null;
  reservationId: string | null;
  refundOf: string | null;
  grantId: string | null;
  allocations: Allocation[];
  createdAt: string;
}

export interface Grant {
  id: string;
  unit: string;
  amount: number;
  remaining: number;
  reserved: number;
  consumed: number;
  expired: number;
  source: string;
  priority: number;
  expiresAt: string | null;
  reference: string | null;
  description: string | null;
  createdAt: string;
}

export interface Reservation {
  id: string;
  accountId: string;
  unit: string;
  amount: number;
  capturedAmount: number;
  status: string;
  expiresAt: string;
  confirmedAmount: number | null;
  operation: string | null;
  reference: string | null;
  createdAt: string;
}

export interface UsageRecord {
  id: string;
  accountId: string;
  modelId: string;
  usageType: string;
  context: string;
  inputTokens: number;
  outputTokens: number;
  quantity: number;
  credits: number;
  unit: string;
  createdAt: string;
}

export interface UsageSummaryRow {
  key: string;
  events: number;
  inputTokens: number;
  outputTokens: number;
  quantity: number;
  credits: number;
}

export interface Price {
  id: string;
  key: string;
  unit: string;
  amount: number | null;
  modelId: string | null;
  inputPerMillion: number | null;
  outputPerMillion: number | null;
  perRequest: number | null;
  updatedAt: string;
}

export interface ApiKey {
  id: string;
  name: string;
  type: "secret" | "hmac";
  scopes: string[];
  hint: string;
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export interface LedgerStats {
  unit: string;
  bucket: "day" | "hour";
  from: string;
  to: string;
  buckets: Array<{ start: string; granted: number; spent: number; refunded: number; expired: number; clawedBack: number; reserved: number }>;
  totals: { granted: number; spent: number; refunded: number; expired: number; clawedBack: number; reserved: number };
  heldNow: { amount: number; count: number };
}

export interface AccountRef {
  accountId: string;
  externalId: string | null;
  name: string | null;
  email: string | null;
}

/** Commerce records are shown as the server sends them; only the fields used are typed. */
export interface CommerceRecord {
  id: string;
  name?: string;
  status?: string;
  createdAt?: string;
  [field: string]: unknown;
}

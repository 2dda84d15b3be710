import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState, type ReactNode } from "react";
import { ApiError, request, withQuery, type Query, type RequestOptions, type Session } from "./api.ts";

/**
 * The signed-in session lives in sessionStorage: it survives a reload of the tab but not the
 * tab itself, and it never appears in a URL (no key in history, logs or Referer headers).
 */
const STORAGE_KEY = "tally.dashboard.session";

export function loadSession(): Session | null {
  try {
    const raw = sessionStorage.getItem(STORAGE_KEY);
    if (raw === null) return null;
    const s = JSON.parse(raw) as Session;
    return typeof s.token === "string" && (s.kind === "key" || s.kind === "admin") ? s : null;
  } catch {
    return null;
  }
}

export function saveSession(session: Session | null): void {
  if (session === null) sessionStorage.removeItem(STORAGE_KEY);
  else sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
}

export interface SessionApi {
  session: Session;
  setSession(next: Session | null): void;
  call<T>(method: string, path: string, options?: RequestOptions): Promise<T>;
  /** Whether this server has a route (read from its OpenAPI document): commerce may be absent. */
  has(method: string, path: string): boolean;
  /** True once the route table is known. */
  capabilitiesKnown: boolean;
}

const Ctx = createContext<SessionApi | null>(null);

export function SessionProvider(props: { session: Session; setSession(next: Session | null): void; children: ReactNode }) {
  const { session, setSession } = props;
  const [routes, setRoutes] = useState<Set<string> | null>(null);

  useEffect(() => {
    let live = true;
    // Public and small; the one place that says which features this server has, so pages never
    // probe for a route and log a 404.
    fetch("/openapi.json", { cache: "no-store" })
      .then((r) => (r.ok ? (r.json() as Promise<{ paths?: Record<string, Record<string, unknown>> }>) : { paths: {} }))
      .then((doc) => {
        const set = new Set<string>();
        for (const [path, ops] of Object.entries(doc.paths ?? {})) for (const m of Object.keys(ops)) set.add(`${m.toUpperCase()} ${path}`);
        if (live) setRoutes(set);
      })
      .catch(() => live && setRoutes(new Set()));
    return () => {
      live = false;
    };
  }, []);

  const call = useCallback(
    async <T,>(method: string, path: string, options?: RequestOptions): Promise<T> => {
      try {
        return await request<T>(session, method, path, options);
      } catch (error) {
        // The key was revoked or the admin token changed: back to the sign-in form.
        if (error instanceof ApiError && error.status === 401) setSession(null);
        throw error;
      }
    },
    [session, setSession],
  );
  const value = useMemo<SessionApi>(
    () => ({
      session,
      setSession,
      call,
      // Unknown route table: assume present and let the 404 path explain.
      has: (method, path) => routes === null || routes.size === 0 || routes.has(`${method} ${path}`),
      capabilitiesKnown: routes !== null,
    }),
    [session, setSession, call, routes],
  );
  return <Ctx.Provider value={value}>{props.children}</Ctx.Provider>;
}

export function useSession(): SessionApi {
  const v = useContext(Ctx);
  if (v === null) throw new Error("useSession outside SessionProvider");
  return v;
}

export interface Loaded<T> {
  data: T | undefined;
  error: ApiError | undefined;
  loading: boolean;
  reload(): void;
}

/** GETs `path` (skipped when null) and re-fetches when the path, query or `reload()` change. */
export function useGet<T>(path: string | null, query?: Query): Loaded<T> {
  const { call } = useSession();
  const [state, setState] = useState<{ data: T | undefined; error: ApiError | undefined; loading: boolean }>({ data: undefined, error: undefined, loading: path !== null });
  const [tick, setTick] = useState(0);
  const url = path === null ? null : withQuery(path, query);
  useEffect(() => {
    if (url === null) {
      setState({ data: undefined, error: undefined, loading: false });
      return;
    }
    const controller = new AbortController();
    setState((s) => ({ ...s, loading: true }));
    call<T>("GET", url, { signal: controller.signal })
      .then((data) => setState({ data, error: undefined, loading: false }))
      .catch((error: unknown) => {
        if (controller.signal.aborted) return;
        setState({ data: undefined, error: error instanceof ApiError ? error : new ApiError(0, "CLIENT", String(error), undefined, undefined), loading: false });
      });
    return () => controller.abort();
  }, [url, call, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

export interface Paged<T> extends Loaded<{ items: T[]; hasMore: boolean; nextCursor: string | null }> {
  pageIndex: number;
  next(): void;
  previous(): void;
  canPrevious: boolean;
  canNext: boolean;
}

/**
 * Cursor pagination over a list endpoint: the server pages, the browser only remembers the
 * cursors it walked so "Previous" works. Any change of path or filters starts again at page 1.
 */
export function usePaged<T>(path: string | null, query: Query = {}, limit = 20): Paged<T> {
  const [cursors, setCursors] = useState<Array<string | undefined>>([undefined]);
  const key = path === null ? null : withQuery(path, query);
  const lastKey = useRef(key);
  if (lastKey.current !== key) {
    lastKey.current = key;
    if (cursors.length !== 1) setCursors([undefined]);
  }
  const cursor = cursors[cursors.length - 1];
  const loaded = useGet<{ items: T[]; hasMore: boolean; nextCursor: string | null }>(path, { ...query, limit, cursor });
  const nextCursor = loaded.data?.nextCursor ?? null;
  return {
    ...loaded,
    pageIndex: cursors.length - 1,
    canPrevious: cursors.length > 1,
    canNext: loaded.data?.hasMore === true && nextCursor !== null,
    next: () => {
      if (nextCursor !== null) setCursors((c) => [...c, nextCursor]);
    },
    previous: () => setCursors((c) => (c.length > 1 ? c.slice(0, -1) : c)),
  };
}

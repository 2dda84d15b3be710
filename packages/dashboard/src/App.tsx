import { lazy, Suspense, useCallback, useState } from "react";
import type { App as AppRecord, Session } from "./api.ts";
import { loadSession, saveSession, SessionProvider, useGet, useSession } from "./session.tsx";
import { Link, navigate, usePath } from "./router.tsx";
import { SignIn } from "./pages/SignIn.tsx";
import { Loading } from "./components/ui.tsx";
import { Overview } from "./pages/Overview.tsx";
import { Accounts } from "./pages/Accounts.tsx";
import { AccountDetail } from "./pages/AccountDetail.tsx";
import { ApiKeys } from "./pages/ApiKeys.tsx";
import { Settings } from "./pages/Settings.tsx";
import { Apps } from "./pages/Apps.tsx";

// Less-visited pages are split out of the first download.
const Catalog = lazy(() => import("./pages/Catalog.tsx").then((m) => ({ default: m.Catalog })));
const Webhooks = lazy(() => import("./pages/Webhooks.tsx").then((m) => ({ default: m.Webhooks })));

export function App() {
  const [session, setSessionState] = useState<Session | null>(loadSession);
  const setSession = useCallback((next: Session | null) => {
    saveSession(next);
    setSessionState(next);
  }, []);

  if (session === null) {
    return (
      <SignIn
        onSignedIn={(s) => {
          setSession(s);
          navigate(window.location.pathname.startsWith("/dashboard/") ? window.location.pathname.slice("/dashboard".length) || "/" : "/");
        }}
      />
    );
  }
  return (
    <SessionProvider session={session} setSession={setSession}>
      <Layout />
    </SessionProvider>
  );
}

const NAV: Array<{ to: string; label: string; match: (p: string) => boolean }> = [
  { to: "/", label: "Overview", match: (p) => p === "/" },
  { to: "/accounts", label: "Accounts", match: (p) => p.startsWith("/accounts") },
  { to: "/catalog", label: "Catalog & prices", match: (p) => p.startsWith("/catalog") },
  { to: "/keys", label: "API keys", match: (p) => p.startsWith("/keys") },
  { to: "/webhooks", label: "Webhooks", match: (p) => p.startsWith("/webhooks") },
  { to: "/settings", label: "Settings", match: (p) => p.startsWith("/settings") },
];

function Layout() {
  const { session, setSession } = useSession();
  const path = usePath();
  const isAdmin = session.kind === "admin";
  const apps = useGet<{ items: AppRecord[] }>(isAdmin ? "/v1/apps" : null);
  const [menuOpen, setMenuOpen] = useState(false);
  const nav = isAdmin ? [...NAV, { to: "/apps", label: "Applications", match: (p: string) => p.startsWith("/apps") }] : NAV;
  const needsApp = isAdmin && session.appId === undefined;

  return (
    <div className="shell">
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="topbar">
        <div className="brand">
          <span aria-hidden="true" className="logo">
            ◆
          </span>{" "}
          Tally
        </div>
        <div className="topbar-tools">
          {isAdmin ? (
            <div className="field inline">
              <label htmlFor="app-switch">Application</label>
              <select
                id="app-switch"
                value={session.appId ?? ""}
                onChange={(e) => {
                  const app = apps.data?.items.find((a) => a.id === e.target.value);
                  if (app !== undefined) setSession({ ...session, appId: app.id, appName: app.name });
                }}
              >
                {session.appId === undefined && <option value="">Choose…</option>}
                {(apps.data?.items ?? []).map((a) => (
                  <option key={a.id} value={a.id}>
                    {a.name} ({a.id.slice(-6)})
                  </option>
                ))}
              </select>
            </div>
          ) : (
            <span className="app-name" title={session.appId}>
              {session.appName ?? session.appId}
            </span>
          )}
          <span className="badge neutral">{isAdmin ? "admin token" : "secret key"}</span>
          <button
            type="button"
            onClick={() => {
              setSession(null);
              navigate("/");
            }}
          >
            Sign out
          </button>
          <button type="button" className="menu-toggle" aria-expanded={menuOpen} aria-controls="main-nav" onClick={() => setMenuOpen((o) => !o)}>
            Menu
          </button>
        </div>
      </header>
      <nav id="main-nav" className={menuOpen ? "sidenav open" : "sidenav"} aria-label="Main">
        <ul>
          {nav.map((n) => (
            <li key={n.to}>
              <Link to={n.to} aria-current={n.match(path) ? "page" : undefined} onClick={() => setMenuOpen(false)}>
                {n.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" className="content" tabIndex={-1}>
        {/* Keyed by application so switching apps never shows the previous app's data. */}
        <Suspense fallback={<Loading />} key={session.appId ?? "none"}>
          {needsApp && !path.startsWith("/apps") ? (
            <Apps reloadApps={apps.reload} note="Choose or create an application to work on." />
          ) : (
            <Route path={path} reloadApps={apps.reload} />
          )}
        </Suspense>
      </main>
    </div>
  );
}

function Route(props: { path: string; reloadApps(): void }) {
  const { path } = props;
  const account = /^\/accounts\/([^/]+)$/.exec(path);
  if (path === "/") return <Overview />;
  if (path === "/accounts") return <Accounts />;
  if (account !== null) return <AccountDetail accountId={decodeURIComponent(account[1]!)} key={account[1]} />;
  if (path === "/catalog") return <Catalog />;
  if (path === "/keys") return <ApiKeys />;
  if (path === "/webhooks") return <Webhooks />;
  if (path === "/settings") return <Settings />;
  if (path === "/apps") return <Apps reloadApps={props.reloadApps} />;
  return (
    <div>
      <h1>Page not found</h1>
      <p>
        <Link to="/">Back to the overview</Link>
      </p>
    </div>
  );
}

import { useEffect, useRef, useState, type FormEvent } from "react";
import { ApiError, request, type App, type Session } from "../api.ts";
import { ErrorNote } from "../components/ui.tsx";

/**
 * A secret key (`sk_…`) signs in to its own application; anything else is tried as the
 * operator's admin token, which can list, create and switch between applications. The key is
 * checked against the API before it is kept, and kept only in this tab's sessionStorage.
 */
export function SignIn(props: { onSignedIn(session: Session): void }) {
  const [token, setToken] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const ref = useRef<HTMLInputElement>(null);

  useEffect(() => {
    document.title = "Sign in · Tally";
    ref.current?.focus();
  }, []);

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const value = token.trim();
    if (value === "") return;
    setBusy(true);
    setError(undefined);
    try {
      if (value.startsWith("sk_")) {
        const session: Session = { kind: "key", token: value };
        const app = await request<App>(session, "GET", "/v1/app");
        props.onSignedIn({ ...session, appId: app.id, appName: app.name });
      } else {
        const session: Session = { kind: "admin", token: value };
        const apps = await request<{ items: App[] }>(session, "GET", "/v1/apps");
        const first = apps.items[0];
        props.onSignedIn(first === undefined ? session : { ...session, appId: first.id, appName: first.name });
      }
    } catch (err) {
      setError(err instanceof ApiError && (err.status === 401 || err.status === 403) ? new Error("That key or token was not accepted. Check it and try again.") : err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main id="main" className="signin">
      <form onSubmit={(e) => void submit(e)} className="card stack" aria-labelledby="signin-title">
        <h1 id="signin-title">Tally dashboard</h1>
        <p className="muted">Sign in with an application's secret key, or with the operator's admin token to manage every application.</p>
        <div className="field">
          <label htmlFor="token">Secret key or admin token</label>
          <input
            ref={ref}
            id="token"
            name="token"
            type="password"
            autoComplete="off"
            spellCheck={false}
            required
            value={token}
            onChange={(e) => setToken(e.target.value)}
            aria-describedby="token-hint"
          />
          <small id="token-hint" className="muted">
            Kept in this browser tab only (sessionStorage) and sent as a bearer token to this server. Never put it in a URL.
          </small>
        </div>
        {error !== undefined && <ErrorNote error={error} />}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Checking…" : "Sign in"}
        </button>
      </form>
    </main>
  );
}

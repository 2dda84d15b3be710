import { useState, type FormEvent } from "react";
import { newIdempotencyKey, type App } from "../api.ts";
import { useGet, useSession } from "../session.tsx";
import { navigate } from "../router.tsx";
import { Empty, ErrorNote, Loading, PageHeader, SecretOnce, Section, Table } from "../components/ui.tsx";
import { when } from "../format.ts";

/** Admin token only: every application on this server, and creating new ones. */
export function Apps(props: { reloadApps(): void; note?: string }) {
  const { call, session, setSession } = useSession();
  const apps = useGet<{ items: App[] }>("/v1/apps");
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [created, setCreated] = useState<{ app: App; secretKey: string } | null>(null);

  const create = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const out = await call<{ app: App; secretKey: string }>("POST", "/v1/apps", { body: { name: name.trim() }, idempotencyKey: newIdempotencyKey("app") });
      setCreated(out);
      setName("");
      apps.reload();
      props.reloadApps();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  const use = (app: App) => {
    setSession({ ...session, appId: app.id, appName: app.name });
    navigate("/");
  };

  return (
    <>
      <PageHeader title="Applications" subtitle={props.note ?? "Each application has its own keys, accounts and catalog; nothing crosses between them."} />
      <Section title="Create an application">
        {created !== null ? (
          <SecretOnce label={`Secret key of “${created.app.name}”`} secret={created.secretKey} onDone={() => setCreated(null)} />
        ) : (
          <form onSubmit={(e) => void create(e)} className="row">
            <div className="field grow">
              <label htmlFor="new-app-name">Name</label>
              <input id="new-app-name" required maxLength={255} value={name} onChange={(e) => setName(e.target.value)} />
            </div>
            <button type="submit" className="primary" disabled={busy}>
              {busy ? "Creating…" : "Create application"}
            </button>
          </form>
        )}
        {error !== undefined && <ErrorNote error={error} />}
      </Section>
      <Section title="All applications">
        {apps.error !== undefined ? (
          <ErrorNote error={apps.error} />
        ) : apps.data === undefined ? (
          <Loading />
        ) : apps.data.items.length === 0 ? (
          <Empty>No applications yet.</Empty>
        ) : (
          <Table
            caption="Applications"
            head={
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Id</th>
                <th scope="col">Created</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            }
          >
            {apps.data.items.map((a) => (
              <tr key={a.id}>
                <td>{a.name}</td>
                <td>
                  <code>{a.id}</code>
                </td>
                <td>{when(a.createdAt)}</td>
                <td>
                  {session.appId === a.id ? (
                    <span className="muted">current</span>
                  ) : (
                    <button type="button" className="small" onClick={() => use(a)}>
                      Work on this
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Section>
    </>
  );
}

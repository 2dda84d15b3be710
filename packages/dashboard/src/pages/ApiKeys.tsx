import { useState, type FormEvent } from "react";
import { newIdempotencyKey, type ApiKey } from "../api.ts";
import { usePaged, useSession } from "../session.tsx";
import { Badge, ConfirmDialog, Empty, ErrorNote, Loading, PageHeader, Pager, SecretOnce, Section, Table, useFlash } from "../components/ui.tsx";
import { when } from "../format.ts";

const SCOPES = ["read", "write", "admin"] as const;

export function ApiKeys() {
  const { call, session } = useSession();
  const keys = usePaged<ApiKey>("/v1/api-keys");
  const [name, setName] = useState("");
  const [scopes, setScopes] = useState<Set<string>>(new Set(SCOPES));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [flash, say] = useFlash();

  const create = async (e: FormEvent) => {
    e.preventDefault();
    if (scopes.size === 0) {
      setError(new Error("Choose at least one scope."));
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const out = await call<{ apiKey: ApiKey; key?: string }>("POST", "/v1/api-keys", {
        body: { name: name.trim(), type: "secret", scopes: SCOPES.filter((s) => scopes.has(s)) },
        idempotencyKey: newIdempotencyKey("key"),
      });
      setCreated({ name: out.apiKey.name, key: out.key ?? "" });
      setName("");
      keys.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <PageHeader title="API keys" subtitle="Secret keys of this application. A key is shown once, when it is created; Tally stores only its hash." />
      {flash}
      <Section title="Create a key">
        {created !== null ? (
          <SecretOnce label={`New key “${created.name}”`} secret={created.key} onDone={() => setCreated(null)} />
        ) : (
          <form onSubmit={(e) => void create(e)} className="row wrap">
            <div className="field grow">
              <label htmlFor="key-name">Name</label>
              <input id="key-name" required maxLength={255} value={name} onChange={(e) => setName(e.target.value)} placeholder="backend production" />
            </div>
            <fieldset className="radios">
              <legend>Scopes</legend>
              {SCOPES.map((s) => (
                <label key={s} className="check">
                  <input
                    type="checkbox"
                    checked={scopes.has(s)}
                    onChange={(e) => {
                      const next = new Set(scopes);
                      if (e.target.checked) next.add(s);
                      else next.delete(s);
                      setScopes(next);
                    }}
                  />{" "}
                  {s}
                </label>
              ))}
            </fieldset>
            <button type="submit" className="primary" disabled={busy}>
              {busy ? "Creating…" : "Create key"}
            </button>
          </form>
        )}
        {error !== undefined && <ErrorNote error={error} />}
      </Section>

      <Section title="Keys">
        {keys.error !== undefined ? (
          <ErrorNote error={keys.error} />
        ) : keys.data === undefined ? (
          <Loading />
        ) : keys.data.items.length === 0 ? (
          <Empty>No keys.</Empty>
        ) : (
          <Table
            caption="API keys, newest first"
            head={
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Key</th>
                <th scope="col">Scopes</th>
                <th scope="col">Created</th>
                <th scope="col">Last used</th>
                <th scope="col">Status</th>
                <th scope="col">
                  <span className="sr-only">Actions</span>
                </th>
              </tr>
            }
          >
            {keys.data.items.map((k) => {
              const mine = session.kind === "key" && session.token.endsWith(k.hint) && k.revokedAt === null;
              return (
                <tr key={k.id} data-testid="key-row" data-key-id={k.id}>
                  <td>{k.name}</td>
                  <td>
                    <code>{k.id}</code>
                    <div className="muted small">
                      {k.type === "secret" ? "sk_" : "hk_"}…{k.hint}
                    </div>
                  </td>
                  <td>{k.scopes.join(", ")}</td>
                  <td>{when(k.createdAt)}</td>
                  <td>{when(k.lastUsedAt)}</td>
                  <td>{k.revokedAt === null ? <Badge tone="good">active</Badge> : <Badge tone="bad">revoked {when(k.revokedAt)}</Badge>}</td>
                  <td>
                    {k.revokedAt === null && (
                      <button type="button" className="danger small" onClick={() => setRevoking(k)} aria-label={`Revoke key ${k.name}`}>
                        Revoke{mine ? " (this session)" : ""}
                      </button>
                    )}
                  </td>
                </tr>
              );
            })}
          </Table>
        )}
        <Pager paged={keys} label="API keys" />
      </Section>

      <ConfirmDialog
        open={revoking !== null}
        title="Revoke this key?"
        message={
          <>
            Requests signed with <strong>{revoking?.name}</strong> (<code>{revoking?.id}</code>) will be refused from the next request on. This cannot be undone.
          </>
        }
        confirmLabel="Revoke key"
        onClose={() => setRevoking(null)}
        onConfirm={async () => {
          if (revoking === null) return;
          await call("DELETE", `/v1/api-keys/${encodeURIComponent(revoking.id)}`, { idempotencyKey: newIdempotencyKey("revoke") });
          say(`Revoked ${revoking.name}.`);
          keys.reload();
        }}
      />
    </>
  );
}

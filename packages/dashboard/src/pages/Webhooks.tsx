import { useState, type FormEvent } from "react";
import { newIdempotencyKey, type CommerceRecord } from "../api.ts";
import { usePaged, useSession } from "../session.tsx";
import { Badge, ConfirmDialog, Empty, ErrorNote, Loading, PageHeader, Pager, SecretOnce, Section, statusTone, Table, Unavailable, useFlash } from "../components/ui.tsx";
import { when } from "../format.ts";

const EVENTS = [
  "credits.granted",
  "credits.deducted",
  "credits.expired",
  "balance.low",
  "reservation.expired",
  "subscription.renewed",
  "subscription.canceled",
  "order.paid",
] as const;

/** Outgoing webhook endpoints and each delivery attempt (the commerce API; absent on a core-only server). */
export function Webhooks() {
  const { has, capabilitiesKnown, call } = useSession();
  const available = has("GET", "/v1/webhook-endpoints");
  const endpoints = usePaged<CommerceRecord>(capabilitiesKnown && available ? "/v1/webhook-endpoints" : null);
  const [selected, setSelected] = useState<string | null>(null);
  const [deleting, setDeleting] = useState<CommerceRecord | null>(null);
  const [flash, say] = useFlash();

  if (!capabilitiesKnown) return <Loading />;
  return (
    <>
      <PageHeader title="Webhooks" subtitle="Tally signs every delivery (tally-signature) and retries failures with backoff for 24 hours." />
      {flash}
      {!available ? (
        <Unavailable what="Webhooks" />
      ) : (
        <>
          <Section title="Add an endpoint">
            <EndpointForm
              onCreated={() => {
                endpoints.reload();
                say("Endpoint added.");
              }}
            />
          </Section>
          <Section title="Endpoints">
            {endpoints.error !== undefined ? (
              <ErrorNote error={endpoints.error} what="Webhooks" />
            ) : endpoints.data === undefined ? (
              <Loading />
            ) : endpoints.data.items.length === 0 ? (
              <Empty>No endpoints.</Empty>
            ) : (
              <>
                <Table
                  caption="Webhook endpoints"
                  head={
                    <tr>
                      <th scope="col">Endpoint</th>
                      <th scope="col">URL</th>
                      <th scope="col">Events</th>
                      <th scope="col">Created</th>
                      <th scope="col">
                        <span className="sr-only">Actions</span>
                      </th>
                    </tr>
                  }
                >
                  {endpoints.data.items.map((e) => (
                    <tr key={e.id}>
                      <td>
                        <code>{e.id}</code>
                      </td>
                      <td className="details">{String(e["url"] ?? "—")}</td>
                      <td>
                        {Array.isArray(e["events"]) ? (e["events"] as string[]).join(", ") : "—"}
                        {typeof e["balanceLowThreshold"] === "number" ? <div className="muted small">balance.low below {String(e["balanceLowThreshold"])}</div> : null}
                      </td>
                      <td>{when(e.createdAt)}</td>
                      <td className="row">
                        <button type="button" className="small" onClick={() => setSelected(e.id)} aria-pressed={selected === e.id}>
                          Deliveries
                        </button>
                        <button type="button" className="small danger" onClick={() => setDeleting(e)} aria-label={`Delete endpoint ${e.id}`}>
                          Delete
                        </button>
                      </td>
                    </tr>
                  ))}
                </Table>
                <Pager paged={endpoints} label="Endpoints" />
              </>
            )}
          </Section>
          {selected !== null && <Deliveries endpointId={selected} key={selected} />}
        </>
      )}
      <ConfirmDialog
        open={deleting !== null}
        title="Delete this endpoint?"
        message={<>No more events will be sent to {String(deleting?.["url"] ?? "")}.</>}
        confirmLabel="Delete endpoint"
        onClose={() => setDeleting(null)}
        onConfirm={async () => {
          if (deleting === null) return;
          await call("DELETE", `/v1/webhook-endpoints/${encodeURIComponent(deleting.id)}`, { idempotencyKey: newIdempotencyKey("webhook-delete") });
          if (selected === deleting.id) setSelected(null);
          endpoints.reload();
          say("Endpoint deleted.");
        }}
      />
    </>
  );
}

function EndpointForm(props: { onCreated(): void }) {
  const { call } = useSession();
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<Set<string>>(new Set(["credits.granted", "credits.deducted", "balance.low"]));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const [secret, setSecret] = useState<string | null>(null);
  const [threshold, setThreshold] = useState("");

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const out = await call<CommerceRecord & { secret?: string }>("POST", "/v1/webhook-endpoints", {
        body: { url: url.trim(), events: [...events], ...(threshold !== "" ? { balanceLowThreshold: Math.max(0, Math.floor(Number(threshold))) } : {}) },
        idempotencyKey: newIdempotencyKey("webhook"),
      });
      setUrl("");
      if (typeof out.secret === "string") setSecret(out.secret);
      props.onCreated();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  if (secret !== null) return <SecretOnce label="Signing secret of the new endpoint" secret={secret} onDone={() => setSecret(null)} />;
  return (
    <form onSubmit={(e) => void submit(e)} className="stack">
      <div className="field">
        <label htmlFor="webhook-url">URL</label>
        <input id="webhook-url" type="url" required value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/tally/webhook" />
      </div>
      <fieldset className="radios columns">
        <legend>Events</legend>
        {EVENTS.map((ev) => (
          <label key={ev} className="check">
            <input
              type="checkbox"
              checked={events.has(ev)}
              onChange={(e) => {
                const next = new Set(events);
                if (e.target.checked) next.add(ev);
                else next.delete(ev);
                setEvents(next);
              }}
            />{" "}
            {ev}
          </label>
        ))}
      </fieldset>
      {events.has("balance.low") && (
        <div className="field">
          <label htmlFor="webhook-threshold">Low-balance threshold (optional)</label>
          <input id="webhook-threshold" type="number" min={0} step={1} value={threshold} onChange={(e) => setThreshold(e.target.value)} className="narrow" aria-describedby="webhook-threshold-hint" />
          <small id="webhook-threshold-hint" className="muted">
            balance.low fires when an account's available credits fall below this (or below its own metadata threshold).
          </small>
        </div>
      )}
      {error !== undefined && <ErrorNote error={error} />}
      <div>
        <button type="submit" className="primary" disabled={busy || events.size === 0}>
          {busy ? "Adding…" : "Add endpoint"}
        </button>
      </div>
    </form>
  );
}

function Deliveries(props: { endpointId: string }) {
  const page = usePaged<CommerceRecord>(`/v1/webhook-endpoints/${encodeURIComponent(props.endpointId)}/deliveries`);
  return (
    <Section title={`Deliveries of ${props.endpointId}`} actions={<button type="button" onClick={page.reload}>Refresh</button>}>
      {page.error !== undefined ? (
        <ErrorNote error={page.error} what="Delivery logs" />
      ) : page.data === undefined ? (
        <Loading />
      ) : page.data.items.length === 0 ? (
        <Empty>Nothing delivered yet.</Empty>
      ) : (
        <>
          <Table
            caption="Delivery attempts, oldest first"
            busy={page.loading}
            head={
              <tr>
                <th scope="col">Created</th>
                <th scope="col">Event</th>
                <th scope="col">Status</th>
                <th scope="col" className="num">Attempts</th>
                <th scope="col">Last response</th>
                <th scope="col">Attempt log</th>
              </tr>
            }
          >
            {page.data.items.map((d) => {
              const st = typeof d.status === "string" ? d.status : "—";
              const log = Array.isArray(d["attemptLog"]) ? (d["attemptLog"] as Array<{ attempt: number; at: string; statusCode: number | null; error: string | null; durationMs: number }>) : [];
              return (
                <tr key={d.id}>
                  <td>{when(d.createdAt)}</td>
                  <td>
                    {String(d["type"] ?? "—")}
                    <div className="muted small">
                      <code>{String(d["eventId"] ?? d.id)}</code>
                    </div>
                  </td>
                  <td>
                    <Badge tone={statusTone(st)}>{st}</Badge>
                    {st === "pending" && typeof d["nextAttemptAt"] === "string" ? <div className="muted small">next try {when(d["nextAttemptAt"])}</div> : null}
                  </td>
                  <td className="num">{String(d["attempts"] ?? "—")}</td>
                  <td className="details">
                    {d["lastStatusCode"] === null || d["lastStatusCode"] === undefined ? "—" : `HTTP ${String(d["lastStatusCode"])}`}
                    {typeof d["lastError"] === "string" ? <div className="muted small">{d["lastError"]}</div> : null}
                  </td>
                  <td>
                    {log.length === 0 ? (
                      "—"
                    ) : (
                      <details>
                        <summary>{log.length} attempt{log.length === 1 ? "" : "s"}</summary>
                        <ol className="allocs">
                          {log.map((a) => (
                            <li key={a.attempt}>
                              #{a.attempt} {when(a.at)}: {a.statusCode === null ? "no response" : `HTTP ${a.statusCode}`} in {a.durationMs} ms{a.error !== null ? ` (${a.error})` : ""}
                            </li>
                          ))}
                        </ol>
                      </details>
                    )}
                  </td>
                </tr>
              );
            })}
          </Table>
          <Pager paged={page} label="Deliveries" />
        </>
      )}
    </Section>
  );
}

import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from "react";
import { ApiError, newIdempotencyKey } from "../api.ts";
import { signed } from "../format.ts";
import type { Paged } from "../session.tsx";

/** The page's one h1; it takes focus on arrival so screen readers announce the new page. */
export function PageHeader(props: { title: string; subtitle?: ReactNode; children?: ReactNode }) {
  const ref = useRef<HTMLHeadingElement>(null);
  useEffect(() => {
    document.title = `${props.title} · Tally`;
    ref.current?.focus({ preventScroll: true });
  }, [props.title]);
  return (
    <header className="page-header">
      <div>
        <h1 ref={ref} tabIndex={-1}>
          {props.title}
        </h1>
        {props.subtitle !== undefined && <p className="muted">{props.subtitle}</p>}
      </div>
      {props.children !== undefined && <div className="actions">{props.children}</div>}
    </header>
  );
}

export function Section(props: { title: string; actions?: ReactNode; children: ReactNode; id?: string }) {
  const headingId = useId();
  return (
    <section className="card" aria-labelledby={headingId} id={props.id}>
      <div className="card-head">
        <h2 id={headingId}>{props.title}</h2>
        {props.actions}
      </div>
      {props.children}
    </section>
  );
}

export function ErrorNote(props: { error: unknown; what?: string }) {
  const e = props.error;
  if (e instanceof ApiError && e.isMissingRoute) return <Unavailable what={props.what ?? "This feature"} />;
  if (e instanceof ApiError && e.status === 403) {
    return (
      <p className="note warn" role="alert">
        Not allowed: {e.message}. Sign in with a key that has the needed scope.
      </p>
    );
  }
  const message = e instanceof ApiError ? e.message : e instanceof Error ? e.message : String(e);
  return (
    <p className="note error" role="alert">
      {e instanceof ApiError && e.code !== "NETWORK" ? <strong>{e.code}: </strong> : null}
      {message}
      {e instanceof ApiError && e.requestId !== undefined ? <span className="muted"> (request {e.requestId})</span> : null}
    </p>
  );
}

export function Unavailable(props: { what: string }) {
  return (
    <p className="note" role="status">
      {props.what} is not available on this server.
    </p>
  );
}

export function Loading(props: { label?: string }) {
  return (
    <p className="muted" role="status" aria-live="polite">
      {props.label ?? "Loading…"}
    </p>
  );
}

export function Empty(props: { children: ReactNode }) {
  return <p className="empty muted">{props.children}</p>;
}

export function Amount(props: { value: number; signed?: boolean }) {
  const cls = props.value > 0 ? "num pos" : props.value < 0 ? "num neg" : "num";
  return <span className={cls}>{props.signed === true ? signed(props.value) : new Intl.NumberFormat("en-US").format(props.value)}</span>;
}

export function Badge(props: { children: ReactNode; tone?: "good" | "warn" | "bad" | "neutral" }) {
  return <span className={`badge ${props.tone ?? "neutral"}`}>{props.children}</span>;
}

export function statusTone(status: string): "good" | "warn" | "bad" | "neutral" {
  if (["active", "paid", "held", "confirmed", "succeeded", "delivered", "trial"].includes(status)) return "good";
  if (["pending", "pending_cancel", "past_due", "retrying"].includes(status)) return "warn";
  if (["canceled", "expired", "failed", "refunded", "revoked"].includes(status)) return "bad";
  return "neutral";
}

/** Previous/next over a cursor-paginated list, with the page number announced. */
export function Pager(props: { paged: Paged<unknown>; label: string }) {
  const { paged } = props;
  if (!paged.canPrevious && !paged.canNext) return null;
  return (
    <nav className="pager" aria-label={`${props.label} pages`}>
      <button type="button" onClick={paged.previous} disabled={!paged.canPrevious || paged.loading}>
        ← Previous
      </button>
      <span aria-live="polite">Page {paged.pageIndex + 1}</span>
      <button type="button" onClick={paged.next} disabled={!paged.canNext || paged.loading}>
        Next →
      </button>
    </nav>
  );
}

/** A table that scrolls sideways on a phone instead of squeezing its columns. */
export function Table(props: { caption: string; head: ReactNode; children: ReactNode; busy?: boolean }) {
  return (
    <div className="table-wrap" role="region" aria-label={props.caption} tabIndex={0}>
      <table aria-busy={props.busy === true}>
        <caption className="sr-only">{props.caption}</caption>
        <thead>{props.head}</thead>
        <tbody>{props.children}</tbody>
      </table>
    </div>
  );
}

export function Field(props: { label: string; hint?: string; children: (id: string, describedBy: string | undefined) => ReactNode }) {
  const id = useId();
  const hintId = props.hint !== undefined ? `${id}-hint` : undefined;
  return (
    <div className="field">
      <label htmlFor={id}>{props.label}</label>
      {props.children(id, hintId)}
      {props.hint !== undefined && (
        <small id={hintId} className="muted">
          {props.hint}
        </small>
      )}
    </div>
  );
}

/** A native modal dialog: focus is trapped and returned, Escape closes it. */
export function Dialog(props: { open: boolean; title: string; onClose(): void; children: ReactNode }) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  useEffect(() => {
    const d = ref.current;
    if (d === null) return;
    if (props.open && !d.open) d.showModal();
    if (!props.open && d.open) d.close();
  }, [props.open]);
  useEffect(() => {
    const d = ref.current;
    if (d === null) return;
    const onCancel = (e: Event) => {
      e.preventDefault();
      props.onClose();
    };
    d.addEventListener("cancel", onCancel);
    return () => d.removeEventListener("cancel", onCancel);
  });
  return (
    <dialog ref={ref} aria-labelledby={titleId}>
      {props.open && (
        <>
          <h2 id={titleId}>{props.title}</h2>
          {props.children}
        </>
      )}
    </dialog>
  );
}

/**
 * A ledger action in two steps: fill in the form, then confirm a plain-language summary. The
 * `Idempotency-Key` is made once for the action and reused if the same request is retried (a
 * timeout, a double click), so it can never run twice; editing the form makes it a new action.
 */
export function ActionDialog(props: {
  open: boolean;
  title: string;
  action: string;
  body: unknown;
  summary: ReactNode;
  confirmLabel: string;
  danger?: boolean;
  /** False while the form cannot be reviewed yet (still loading what it needs, or nothing to do). */
  ready?: boolean;
  onClose(): void;
  send(idempotencyKey: string): Promise<void>;
  children: ReactNode;
}) {
  const [step, setStep] = useState<"edit" | "review">("edit");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const keyRef = useRef<{ key: string; fingerprint: string } | null>(null);

  useEffect(() => {
    if (props.open) {
      setStep("edit");
      setError(undefined);
      keyRef.current = null;
    }
  }, [props.open]);

  const review = (e: FormEvent) => {
    e.preventDefault();
    if (props.ready === false) return;
    setError(undefined);
    setStep("review");
  };
  const confirm = async () => {
    const fingerprint = JSON.stringify(props.body);
    if (keyRef.current === null || keyRef.current.fingerprint !== fingerprint) keyRef.current = { key: newIdempotencyKey(props.action), fingerprint };
    setBusy(true);
    setError(undefined);
    try {
      await props.send(keyRef.current.key);
      props.onClose();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog open={props.open} title={props.title} onClose={busy ? () => undefined : props.onClose}>
      {step === "edit" ? (
        <form onSubmit={review} className="stack">
          {props.children}
          <div className="dialog-actions">
            <button type="button" onClick={props.onClose}>
              Cancel
            </button>
            <button type="submit" className="primary" disabled={props.ready === false}>
              Review
            </button>
          </div>
        </form>
      ) : (
        <div className="stack">
          <p className="summary">{props.summary}</p>
          {error !== undefined && <ErrorNote error={error} />}
          <p className="muted small">
            Idempotency key: <code>{keyRef.current?.key ?? "made when you confirm"}</code>
          </p>
          <div className="dialog-actions">
            <button type="button" onClick={() => setStep("edit")} disabled={busy}>
              Back
            </button>
            <button type="button" className={props.danger === true ? "danger" : "primary"} onClick={() => void confirm()} disabled={busy} autoFocus>
              {busy ? "Working…" : props.confirmLabel}
            </button>
          </div>
        </div>
      )}
    </Dialog>
  );
}

/** A small confirmation for one-click destructive actions (revoke, delete). */
export function ConfirmDialog(props: { open: boolean; title: string; message: ReactNode; confirmLabel: string; onClose(): void; onConfirm(): Promise<void> }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  useEffect(() => {
    if (props.open) setError(undefined);
  }, [props.open]);
  return (
    <Dialog open={props.open} title={props.title} onClose={busy ? () => undefined : props.onClose}>
      <div className="stack">
        <p>{props.message}</p>
        {error !== undefined && <ErrorNote error={error} />}
        <div className="dialog-actions">
          <button type="button" onClick={props.onClose} disabled={busy}>
            Cancel
          </button>
          <button
            type="button"
            className="danger"
            disabled={busy}
            onClick={() => {
              setBusy(true);
              setError(undefined);
              props
                .onConfirm()
                .then(() => props.onClose())
                .catch((e: unknown) => setError(e))
                .finally(() => setBusy(false));
            }}
          >
            {busy ? "Working…" : props.confirmLabel}
          </button>
        </div>
      </div>
    </Dialog>
  );
}

/** Shows a secret exactly once, with a copy button; closing it forgets the secret. */
export function SecretOnce(props: { label: string; secret: string; onDone(): void }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="note secret" role="status">
      <p>
        <strong>{props.label}</strong> — copy it now; it is shown only once and cannot be retrieved later.
      </p>
      <p>
        <code className="secret-value" data-testid="secret-value">
          {props.secret}
        </code>
      </p>
      <div className="row">
        <button
          type="button"
          onClick={() => {
            void navigator.clipboard?.writeText(props.secret).then(
              () => setCopied(true),
              () => setCopied(false),
            );
          }}
        >
          {copied ? "Copied" : "Copy"}
        </button>
        <button type="button" onClick={props.onDone}>
          I have saved it
        </button>
      </div>
    </div>
  );
}

/** A message for screen readers and sighted users after an action succeeds. */
export function useFlash(): [ReactNode, (message: string) => void] {
  const [message, setMessage] = useState<string | null>(null);
  useEffect(() => {
    if (message === null) return;
    const t = setTimeout(() => setMessage(null), 6000);
    return () => clearTimeout(t);
  }, [message]);
  const node = (
    <p className="flash" role="status" aria-live="polite">
      {message ?? ""}
    </p>
  );
  return [node, setMessage];
}

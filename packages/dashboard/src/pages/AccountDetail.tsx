import { useEffect, useState } from "react";
import { newIdempotencyKey, type Account, type Balance, type CommerceRecord, type Grant, type Page, type Reservation, type Transaction, type UsageRecord } from "../api.ts";
import { useGet, usePaged, useSession, type SessionApi } from "../session.tsx";
import { Link } from "../router.tsx";
import { ActionDialog, Amount, Badge, ConfirmDialog, Empty, ErrorNote, Field, Loading, PageHeader, Pager, Section, statusTone, Table, useFlash } from "../components/ui.tsx";
import { Tabs } from "../components/Tabs.tsx";
import { CommerceList, money, status, str } from "../components/CommerceList.tsx";
import { amount, signed, when } from "../format.ts";

type TabKey = "ledger" | "lots" | "reservations" | "usage" | "subscriptions" | "orders";

const REFUNDABLE = new Set(["deduct", "debit", "reservation_capture", "reservation_confirm"]);
const SOURCES = ["manual", "promotional", "purchase", "plan", "addon", "refund"] as const;

export function AccountDetail(props: { accountId: string }) {
  const { accountId } = props;
  const account = useGet<Account>(`/v1/accounts/${encodeURIComponent(accountId)}`);
  const balances = useGet<{ balances: Balance[] }>(`/v1/accounts/${encodeURIComponent(accountId)}/balances`);
  const [tab, setTab] = useState<TabKey>("ledger");
  const [dialog, setDialog] = useState<null | { kind: "grant" } | { kind: "adjust" } | { kind: "refund"; transaction: Transaction }>(null);
  // Bumped after every action so each list re-reads the ledger it shows.
  const [version, setVersion] = useState(0);
  const [flash, say] = useFlash();

  const afterAction = (message: string) => {
    balances.reload();
    setVersion((v) => v + 1);
    say(message);
  };

  if (account.error !== undefined) {
    return (
      <>
        <PageHeader title="Account" />
        <ErrorNote error={account.error} />
        <p>
          <Link to="/accounts">Back to accounts</Link>
        </p>
      </>
    );
  }
  if (account.data === undefined) return <Loading />;
  const a = account.data;
  const units = balances.data?.balances.map((b) => b.unit) ?? [];

  return (
    <>
      <p className="crumbs">
        <Link to="/accounts">Accounts</Link> <span aria-hidden="true">›</span> <span>{a.name ?? a.externalId ?? a.id}</span>
      </p>
      <PageHeader
        title={a.name ?? a.externalId ?? a.id}
        subtitle={
          <>
            <code>{a.id}</code>
            {a.externalId !== null && <> · external id <code>{a.externalId}</code></>}
            {a.email !== null && <> · {a.email}</>} · created {when(a.createdAt)}
          </>
        }
      >
        <button type="button" className="primary" onClick={() => setDialog({ kind: "grant" })}>
          Grant credits
        </button>
        <button type="button" onClick={() => setDialog({ kind: "adjust" })}>
          Adjust balance
        </button>
      </PageHeader>
      {flash}

      <div className={Object.keys(a.metadata).length > 0 ? "grid summary" : undefined}>
        <Section title="Balances">
          {balances.error !== undefined ? (
            <ErrorNote error={balances.error} />
          ) : balances.data === undefined ? (
            <Loading />
          ) : balances.data.balances.length === 0 ? (
            <Empty>No credits yet. Grant some to start.</Empty>
          ) : (
            <div className="balances" data-testid="balances">
              {balances.data.balances.map((b) => (
                <div className="balance" key={b.unit} data-unit={b.unit}>
                  <h3>{b.unit}</h3>
                  <dl>
                    <div>
                      <dt>Available</dt>
                      <dd className="big" data-testid={`available-${b.unit}`}>
                        {amount(b.available)}
                      </dd>
                    </div>
                    <div>
                      <dt>Balance</dt>
                      <dd data-testid={`balance-${b.unit}`}>{amount(b.balance)}</dd>
                    </div>
                    <div>
                      <dt>Reserved</dt>
                      <dd>{amount(b.reserved)}</dd>
                    </div>
                    {b.expiringNext !== undefined && (
                      <div>
                        <dt>Expiring next</dt>
                        <dd>
                          {amount(b.expiringNext.amount)} on {when(b.expiringNext.expiresAt)}
                        </dd>
                      </div>
                    )}
                  </dl>
                </div>
              ))}
            </div>
          )}
        </Section>

        {Object.keys(a.metadata).length > 0 && (
          <Section title="Metadata">
            <dl className="meta">
              {Object.entries(a.metadata).map(([k, v]) => (
                <div key={k}>
                  <dt>{k}</dt>
                  <dd>{v}</dd>
                </div>
              ))}
            </dl>
          </Section>
        )}
      </div>

      <section className="card" aria-label="Account activity">
        <Tabs<TabKey>
          label="Account activity"
          active={tab}
          onChange={setTab}
          tabs={[
            { key: "ledger", label: "Ledger" },
            { key: "lots", label: "Lots" },
            { key: "reservations", label: "Reservations" },
            { key: "usage", label: "Usage" },
            { key: "subscriptions", label: "Subscriptions" },
            { key: "orders", label: "Orders" },
          ]}
        >
          {tab === "ledger" && <Ledger key={version} accountId={a.id} onRefund={(t) => setDialog({ kind: "refund", transaction: t })} />}
          {tab === "lots" && <Lots key={version} accountId={a.id} />}
          {tab === "reservations" && <Reservations key={version} accountId={a.id} />}
          {tab === "usage" && <Usage accountId={a.id} />}
          {tab === "subscriptions" && <Subscriptions accountId={a.id} onChanged={afterAction} />}
          {tab === "orders" && <Orders accountId={a.id} />}
        </Tabs>
      </section>

      <GrantDialog open={dialog?.kind === "grant"} account={a} units={units} onClose={() => setDialog(null)} onDone={afterAction} />
      <AdjustDialog open={dialog?.kind === "adjust"} account={a} units={units} onClose={() => setDialog(null)} onDone={afterAction} />
      <RefundDialog transaction={dialog?.kind === "refund" ? dialog.transaction : null} onClose={() => setDialog(null)} onDone={afterAction} />
    </>
  );
}

function Ledger(props: { accountId: string; onRefund(t: Transaction): void }) {
  const page = usePaged<Transaction>("/v1/transactions", { accountId: props.accountId });
  if (page.error !== undefined) return <ErrorNote error={page.error} />;
  if (page.data === undefined) return <Loading />;
  if (page.data.items.length === 0) return <Empty>No transactions yet.</Empty>;
  // Refunds come after their charge, so newest first they are on the same page or an earlier one:
  // what this page shows is enough to hide the button of a charge already refunded in full.
  const refundedHere = new Map<string, number>();
  for (const t of page.data.items) if (t.refundOf !== null) refundedHere.set(t.refundOf, (refundedHere.get(t.refundOf) ?? 0) + Math.abs(t.amount));
  return (
    <>
      <Table
        caption="Ledger, newest first"
        busy={page.loading}
        head={
          <tr>
            <th scope="col">When</th>
            <th scope="col">Type</th>
            <th scope="col" className="num">Amount</th>
            <th scope="col" className="num">Balance after</th>
            <th scope="col">Details</th>
            <th scope="col">Paid from / into</th>
            <th scope="col">
              <span className="sr-only">Actions</span>
            </th>
          </tr>
        }
      >
        {page.data.items.map((t) => (
          <tr key={t.id} data-testid="ledger-row">
            <td>
              {when(t.createdAt)}
              <div className="muted small">
                <code>{t.id}</code>
              </div>
            </td>
            <td>
              <Badge>{t.type.replace("_", " ")}</Badge>
            </td>
            <td className="num">
              <Amount value={t.amount} signed /> <span className="muted small">{t.unit}</span>
            </td>
            <td className="num">{amount(t.balanceAfter)}</td>
            <td className="details">
              {[t.operation, t.description, t.reference && `ref ${t.reference}`, t.refundOf && `refund of ${t.refundOf}`].filter(Boolean).join(" · ") || "—"}
            </td>
            <td>
              {t.allocations.length === 0 ? (
                t.grantId !== null ? (
                  <code className="small">{t.grantId}</code>
                ) : (
                  "—"
                )
              ) : (
                <ul className="allocs">
                  {t.allocations.map((al) => (
                    <li key={al.grantId}>
                      <code>{al.grantId}</code> {signed(t.amount < 0 ? -Math.abs(al.amount) : Math.abs(al.amount))}{" "}
                      <span className="muted">({al.source}{al.expiresAt !== null ? `, expires ${when(al.expiresAt)}` : ""})</span>
                    </li>
                  ))}
                </ul>
              )}
            </td>
            <td>
              {REFUNDABLE.has(t.type) && (refundedHere.get(t.id) ?? 0) < Math.abs(t.amount) && (
                <button type="button" className="small" onClick={() => props.onRefund(t)} aria-label={`Refund ${t.id}`}>
                  Refund
                </button>
              )}
            </td>
          </tr>
        ))}
      </Table>
      <Pager paged={page} label="Ledger" />
    </>
  );
}

function Lots(props: { accountId: string }) {
  const [activeOnly, setActiveOnly] = useState(false);
  const page = usePaged<Grant>(`/v1/accounts/${encodeURIComponent(props.accountId)}/grants`, { active: activeOnly ? true : undefined });
  return (
    <>
      <div className="row">
        <label className="check">
          <input type="checkbox" checked={activeOnly} onChange={(e) => setActiveOnly(e.target.checked)} /> Only lots that can still be spent
        </label>
      </div>
      {page.error !== undefined ? (
        <ErrorNote error={page.error} />
      ) : page.data === undefined ? (
        <Loading />
      ) : page.data.items.length === 0 ? (
        <Empty>No lots.</Empty>
      ) : (
        <>
          <Table
            caption="Lots of credits, newest first"
            busy={page.loading}
            head={
              <tr>
                <th scope="col">Lot</th>
                <th scope="col">Source</th>
                <th scope="col" className="num">Amount</th>
                <th scope="col" className="num">Remaining</th>
                <th scope="col" className="num">Reserved</th>
                <th scope="col" className="num">Consumed</th>
                <th scope="col" className="num">Expired</th>
                <th scope="col" className="num">Priority</th>
                <th scope="col">Expires</th>
              </tr>
            }
          >
            {page.data.items.map((g) => (
              <tr key={g.id}>
                <td>
                  <code>{g.id}</code>
                  <div className="muted small">{when(g.createdAt)}</div>
                </td>
                <td>{g.source}</td>
                <td className="num">
                  {amount(g.amount)} <span className="muted small">{g.unit}</span>
                </td>
                <td className="num">{amount(g.remaining)}</td>
                <td className="num">{amount(g.reserved)}</td>
                <td className="num">{amount(g.consumed)}</td>
                <td className="num">{amount(g.expired)}</td>
                <td className="num">{g.priority}</td>
                <td>{g.expiresAt === null ? "never" : when(g.expiresAt)}</td>
              </tr>
            ))}
          </Table>
          <Pager paged={page} label="Lots" />
        </>
      )}
    </>
  );
}

function Reservations(props: { accountId: string }) {
  const page = usePaged<Reservation>("/v1/reservations", { accountId: props.accountId });
  if (page.error !== undefined) return <ErrorNote error={page.error} />;
  if (page.data === undefined) return <Loading />;
  if (page.data.items.length === 0) return <Empty>No reservations.</Empty>;
  return (
    <>
      <Table
        caption="Reservations, newest first"
        busy={page.loading}
        head={
          <tr>
            <th scope="col">Reservation</th>
            <th scope="col">Status</th>
            <th scope="col" className="num">Amount</th>
            <th scope="col" className="num">Captured</th>
            <th scope="col" className="num">Confirmed</th>
            <th scope="col">Operation</th>
            <th scope="col">Expires</th>
          </tr>
        }
      >
        {page.data.items.map((r) => (
          <tr key={r.id}>
            <td>
              <code>{r.id}</code>
              <div className="muted small">{when(r.createdAt)}</div>
            </td>
            <td>
              <Badge tone={statusTone(r.status)}>{r.status}</Badge>
            </td>
            <td className="num">
              {amount(r.amount)} <span className="muted small">{r.unit}</span>
            </td>
            <td className="num">{amount(r.capturedAmount)}</td>
            <td className="num">{amount(r.confirmedAmount)}</td>
            <td>{r.operation ?? "—"}</td>
            <td>{when(r.expiresAt)}</td>
          </tr>
        ))}
      </Table>
      <Pager paged={page} label="Reservations" />
    </>
  );
}

function Usage(props: { accountId: string }) {
  const page = usePaged<UsageRecord>("/v1/usage", { accountId: props.accountId });
  if (page.error !== undefined) return <ErrorNote error={page.error} what="Usage" />;
  if (page.data === undefined) return <Loading />;
  if (page.data.items.length === 0) return <Empty>No usage recorded.</Empty>;
  return (
    <>
      <Table
        caption="Usage records, newest first"
        busy={page.loading}
        head={
          <tr>
            <th scope="col">When</th>
            <th scope="col">Model</th>
            <th scope="col">Type</th>
            <th scope="col" className="num">Input tokens</th>
            <th scope="col" className="num">Output tokens</th>
            <th scope="col" className="num">Credits</th>
          </tr>
        }
      >
        {page.data.items.map((u) => (
          <tr key={u.id}>
            <td>{when(u.createdAt)}</td>
            <td>{u.modelId}</td>
            <td>
              {u.usageType}
              {u.context === "internal" ? " (internal)" : ""}
            </td>
            <td className="num">{amount(u.inputTokens)}</td>
            <td className="num">{amount(u.outputTokens)}</td>
            <td className="num">
              {amount(u.credits)} <span className="muted small">{u.unit}</span>
            </td>
          </tr>
        ))}
      </Table>
      <Pager paged={page} label="Usage" />
    </>
  );
}

function Subscriptions(props: { accountId: string; onChanged(message: string): void }) {
  const { call } = useSession();
  const [canceling, setCanceling] = useState<CommerceRecord | null>(null);
  const [atPeriodEnd, setAtPeriodEnd] = useState(true);
  const [version, setVersion] = useState(0);
  const cancelable = (r: CommerceRecord) => ["trial", "active", "past_due", "pending_cancel"].includes(String(r.status));
  // Already ending at period end: what is left to offer is ending it now.
  const pending = canceling !== null && canceling.status === "pending_cancel";
  const endAtPeriodEnd = atPeriodEnd && !pending;
  return (
    <>
      <CommerceList
        key={version}
        path="/v1/subscriptions"
        query={{ accountId: props.accountId }}
        what="Subscriptions"
        columns={[
          { label: "Subscription", value: (r) => <code>{r.id}</code> },
          { label: "Plan", value: (r) => <code>{str(r["planId"])}</code> },
          { label: "Status", value: status },
          { label: "Current period", value: (r) => `${when(r["currentPeriodStart"] as string | null)} → ${when(r["currentPeriodEnd"] as string | null)}` },
          { label: "Cancels at period end", value: (r) => (r["cancelAtPeriodEnd"] === true ? "yes" : "no") },
          {
            label: "Actions",
            value: (r) =>
              cancelable(r) ? (
                r.status === "pending_cancel" ? (
                  <button type="button" className="small danger" onClick={() => setCanceling(r)} aria-label={`Cancel subscription ${r.id} now`}>
                    Cancel now
                  </button>
                ) : (
                  <button
                    type="button"
                    className="small danger"
                    onClick={() => {
                      setAtPeriodEnd(true);
                      setCanceling(r);
                    }}
                    aria-label={`Cancel subscription ${r.id}`}
                  >
                    Cancel
                  </button>
                )
              ) : null,
          },
        ]}
      />
      <ConfirmDialog
        open={canceling !== null}
        title={pending ? "Cancel this subscription now?" : "Cancel this subscription?"}
        message={
          pending ? (
            <>
              <code>{canceling?.id}</code> already ends at the end of its period. Cancelling now ends it at once; credits already granted stay until they
              expire.
            </>
          ) : (
            <>
              <code>{canceling?.id}</code> stops renewing.
              <label className="check" style={{ display: "flex", marginTop: "0.75rem" }}>
                <input type="checkbox" checked={atPeriodEnd} onChange={(e) => setAtPeriodEnd(e.target.checked)} /> At the end of the current period (otherwise now)
              </label>
            </>
          )
        }
        confirmLabel={pending ? "Cancel now" : "Cancel subscription"}
        onClose={() => setCanceling(null)}
        onConfirm={async () => {
          if (canceling === null) return;
          await call("POST", `/v1/subscriptions/${encodeURIComponent(canceling.id)}/cancel`, {
            body: { atPeriodEnd: endAtPeriodEnd, reason: "canceled from the dashboard" },
            idempotencyKey: newIdempotencyKey("cancel-subscription"),
          });
          setVersion((v) => v + 1);
          props.onChanged(endAtPeriodEnd ? "The subscription will end at the end of its period." : "Subscription canceled.");
        }}
      />
    </>
  );
}

function Orders(props: { accountId: string }) {
  const { has } = useSession();
  return (
    <>
      {has("GET", "/v1/orders") ? (
        <CommerceList
          path="/v1/orders"
          query={{ accountId: props.accountId }}
          what="Orders"
          columns={[
            { label: "Order", value: (r) => <code>{r.id}</code> },
            { label: "Status", value: status },
            { label: "Amount", value: money, num: true },
            { label: "For", value: (r) => <code>{str(r["planId"] ?? r["addonId"] ?? r["productId"])}</code> },
            { label: "Created", value: (r) => when(r.createdAt) },
          ]}
        />
      ) : null}
      <h3 className="sub">Invoices</h3>
      <CommerceList
        path={`/v1/accounts/${encodeURIComponent(props.accountId)}/invoices`}
        query={{}}
        what="Invoices"
        columns={[
          { label: "Invoice", value: (r) => <code>{r.id}</code> },
          { label: "Order", value: (r) => <code>{str(r["orderId"])}</code> },
          { label: "Status", value: status },
          { label: "Amount", value: money, num: true },
          {
            label: "Link",
            value: (r) =>
              typeof r["hostedUrl"] === "string" && /^(https?:\/\/|\/)/.test(r["hostedUrl"]) ? (
                <a href={r["hostedUrl"]} target="_blank" rel="noreferrer noopener">
                  View
                </a>
              ) : (
                "—"
              ),
          },
          { label: "Created", value: (r) => when(r.createdAt) },
        ]}
      />
    </>
  );
}

// ---- Actions: each a form, then a confirmation, with one idempotency key per action ----

function GrantDialog(props: { open: boolean; account: Account; units: string[]; onClose(): void; onDone(message: string): void }) {
  const { call } = useSession();
  const [amountText, setAmount] = useState("");
  const [unit, setUnit] = useState("credits");
  const [source, setSource] = useState<string>("manual");
  const [expires, setExpires] = useState("");
  const [description, setDescription] = useState("");
  const [reference, setReference] = useState("");
  // Each grant starts from a blank form, never the previous grant's amount and unit.
  useEffect(() => {
    if (!props.open) return;
    setAmount("");
    setUnit("credits");
    setSource("manual");
    setExpires("");
    setDescription("");
    setReference("");
  }, [props.open]);
  const n = Math.floor(Number(amountText));
  const body = {
    accountId: props.account.id,
    amount: n,
    unit,
    source,
    ...(expires !== "" ? { expiresAt: new Date(expires).toISOString() } : {}),
    ...(description !== "" ? { description } : {}),
    ...(reference !== "" ? { reference } : {}),
  };
  return (
    <ActionDialog
      open={props.open}
      title="Grant credits"
      action="grant"
      body={body}
      confirmLabel={`Grant ${amount(n)} ${unit}`}
      summary={
        <>
          Grant <strong>{amount(n)} {unit}</strong> ({source}) to <strong>{props.account.name ?? props.account.externalId ?? props.account.id}</strong>
          {expires !== "" ? <>, expiring {when(new Date(expires).toISOString())}</> : <>, never expiring</>}?
        </>
      }
      onClose={props.onClose}
      send={async (key) => {
        await call("POST", "/v1/credits/grant", { body, idempotencyKey: key });
        props.onDone(`Granted ${amount(n)} ${unit}.`);
      }}
    >
      <Field label="Amount">{(id) => <input id={id} type="number" min={1} step={1} required value={amountText} onChange={(e) => setAmount(e.target.value)} inputMode="numeric" />}</Field>
      <UnitField value={unit} onChange={setUnit} units={props.units} />
      <Field label="Source">
        {(id) => (
          <select id={id} value={source} onChange={(e) => setSource(e.target.value)}>
            {SOURCES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label="Expires (optional)" hint="Your local time; leave empty for credits that never expire.">
        {(id, hint) => <input id={id} type="datetime-local" value={expires} onChange={(e) => setExpires(e.target.value)} aria-describedby={hint} />}
      </Field>
      <Field label="Description (optional)">{(id) => <input id={id} maxLength={1000} value={description} onChange={(e) => setDescription(e.target.value)} />}</Field>
      <Field label="Reference (optional)" hint="Your order or ticket number.">
        {(id, hint) => <input id={id} maxLength={255} value={reference} onChange={(e) => setReference(e.target.value)} aria-describedby={hint} />}
      </Field>
    </ActionDialog>
  );
}

function AdjustDialog(props: { open: boolean; account: Account; units: string[]; onClose(): void; onDone(message: string): void }) {
  const { call } = useSession();
  const [direction, setDirection] = useState<"credit" | "debit">("credit");
  const [amountText, setAmount] = useState("");
  const [unit, setUnit] = useState("credits");
  const [description, setDescription] = useState("");
  useEffect(() => {
    if (!props.open) return;
    setDirection("credit");
    setAmount("");
    setUnit("credits");
    setDescription("");
  }, [props.open]);
  const n = Math.floor(Number(amountText));
  const body = { accountId: props.account.id, type: direction, amount: n, unit, ...(description !== "" ? { description } : {}) };
  return (
    <ActionDialog
      open={props.open}
      title="Adjust balance"
      action="adjust"
      body={body}
      danger={direction === "debit"}
      confirmLabel={direction === "credit" ? `Add ${amount(n)} ${unit}` : `Remove ${amount(n)} ${unit}`}
      summary={
        <>
          {direction === "credit" ? "Add" : "Remove"} <strong>{amount(n)} {unit}</strong> {direction === "credit" ? "to" : "from"}{" "}
          <strong>{props.account.name ?? props.account.externalId ?? props.account.id}</strong> as a manual {direction}?
          {direction === "debit" ? " A debit may not take the balance below what is available." : ""}
        </>
      }
      onClose={props.onClose}
      send={async (key) => {
        await call("POST", "/v1/transactions", { body, idempotencyKey: key });
        props.onDone(`${direction === "credit" ? "Added" : "Removed"} ${amount(n)} ${unit}.`);
      }}
    >
      <fieldset className="radios">
        <legend>Direction</legend>
        <label className="check">
          <input type="radio" name="direction" value="credit" checked={direction === "credit"} onChange={() => setDirection("credit")} /> Credit (add)
        </label>
        <label className="check">
          <input type="radio" name="direction" value="debit" checked={direction === "debit"} onChange={() => setDirection("debit")} /> Debit (remove)
        </label>
      </fieldset>
      <Field label="Amount">{(id) => <input id={id} type="number" min={1} step={1} required value={amountText} onChange={(e) => setAmount(e.target.value)} inputMode="numeric" />}</Field>
      <UnitField value={unit} onChange={setUnit} units={props.units} />
      <Field label="Reason" hint="Recorded as the transaction's description.">
        {(id, hint) => <input id={id} required maxLength={1000} value={description} onChange={(e) => setDescription(e.target.value)} aria-describedby={hint} />}
      </Field>
    </ActionDialog>
  );
}

/** At most this many pages of the account's refunds are read to find what a charge has had back. */
const REFUND_PAGES = 10;

/** What of `t` was refunded already: the sum of the refunds naming it (`refundOf`). */
async function refundedSoFar(call: SessionApi["call"], t: Transaction, signal: AbortSignal): Promise<{ refunded: number; complete: boolean }> {
  let refunded = 0;
  let cursor: string | undefined;
  for (let i = 0; i < REFUND_PAGES; i++) {
    const page = await call<Page<Transaction>>("GET", "/v1/transactions", { query: { accountId: t.accountId, unit: t.unit, type: "refund", limit: 100, cursor }, signal });
    for (const r of page.items) if (r.refundOf === t.id) refunded += Math.abs(r.amount);
    if (!page.hasMore || page.nextCursor === null) return { refunded, complete: true };
    cursor = page.nextCursor;
  }
  return { refunded, complete: false };
}

function RefundDialog(props: { transaction: Transaction | null; onClose(): void; onDone(message: string): void }) {
  const { call } = useSession();
  const t = props.transaction;
  const [amountText, setAmount] = useState("");
  const [reason, setReason] = useState("");
  // What was refunded of this charge before: undefined while it is being read.
  const [prior, setPrior] = useState<{ refunded: number; complete: boolean } | { error: unknown } | undefined>(undefined);

  useEffect(() => {
    setAmount("");
    setReason("");
    setPrior(undefined);
    if (t === null) return;
    const controller = new AbortController();
    refundedSoFar(call, t, controller.signal).then(
      (p) => setPrior(p),
      (error: unknown) => {
        if (!controller.signal.aborted) setPrior({ error });
      },
    );
    return () => controller.abort();
  }, [t, call]);

  const original = t === null ? 0 : Math.abs(t.amount);
  const known = prior !== undefined && "refunded" in prior ? prior : undefined;
  // Unknown (still loading, or the list failed): the charge itself is the bound; the server checks.
  const left = known !== undefined ? Math.max(0, original - known.refunded) : original;
  const nothingLeft = known !== undefined && left === 0;
  const n = amountText === "" ? left : Math.floor(Number(amountText));
  const unit = t?.unit ?? "";
  const body = t === null ? {} : { transactionId: t.id, ...(amountText !== "" ? { amount: n } : {}), ...(reason !== "" ? { reason } : {}) };
  return (
    <ActionDialog
      open={t !== null}
      title="Refund a charge"
      action="refund"
      body={body}
      ready={prior !== undefined && !nothingLeft}
      confirmLabel={amountText === "" ? `Refund what is left (${amount(left)} ${unit})` : `Refund ${amount(n)} ${unit}`}
      summary={
        amountText === "" ? (
          <>
            Return <strong>what is left</strong> of <code>{t?.id}</code> ({amount(left)} {unit}) to the lots that paid for it? Refunds of one charge may not exceed it in
            total.
          </>
        ) : (
          <>
            Return <strong>{amount(n)} {unit}</strong> of <code>{t?.id}</code> to the lots that paid for it? Refunds of one charge may not exceed it in total.
          </>
        )
      }
      onClose={props.onClose}
      send={async (key) => {
        const res = await call<{ transaction: Transaction }>("POST", "/v1/credits/refund", { body, idempotencyKey: key });
        // The server's answer, not the form: it is what was actually refunded.
        props.onDone(`Refunded ${amount(Math.abs(res.transaction.amount))} ${res.transaction.unit}.`);
      }}
    >
      <p className="muted">
        Charge <code>{t?.id}</code>: {t !== null ? signed(t.amount) : ""} {unit} ({t?.type.replace("_", " ")})
        {known !== undefined && known.refunded > 0 ? <>; {amount(known.refunded)} refunded already</> : null}.
      </p>
      {prior === undefined ? (
        <Loading label="Checking what was refunded already…" />
      ) : "error" in prior ? (
        <ErrorNote error={prior.error} />
      ) : null}
      {nothingLeft ? (
        <p className="note" role="status" data-testid="refund-nothing-left">
          This charge has been refunded in full; nothing is left to refund.
        </p>
      ) : (
        <>
          <Field
            label="Amount (optional)"
            hint={`Up to ${amount(left)}${known !== undefined && !known.complete ? " (older refunds not checked)" : ""}; empty refunds what is left of the charge.`}
          >
            {(id, hint) => <input id={id} type="number" min={1} max={left} step={1} value={amountText} onChange={(e) => setAmount(e.target.value)} aria-describedby={hint} inputMode="numeric" />}
          </Field>
          <Field label="Reason (optional)">{(id) => <input id={id} maxLength={255} value={reason} onChange={(e) => setReason(e.target.value)} />}</Field>
        </>
      )}
    </ActionDialog>
  );
}

function UnitField(props: { value: string; onChange(v: string): void; units: string[] }) {
  const listId = "known-units";
  return (
    <Field label="Unit">
      {(id) => (
        <>
          <input id={id} required pattern="[a-z][a-z0-9_.\-]{0,63}" value={props.value} onChange={(e) => props.onChange(e.target.value)} list={listId} autoComplete="off" />
          <datalist id={listId}>
            {[...new Set(["credits", ...props.units])].map((u) => (
              <option key={u} value={u} />
            ))}
          </datalist>
        </>
      )}
    </Field>
  );
}

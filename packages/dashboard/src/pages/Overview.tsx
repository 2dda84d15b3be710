import { lazy, Suspense, useMemo, useState } from "react";
import type { AccountRef, LedgerStats, Page, Reservation, UsageSummaryRow } from "../api.ts";
import { useGet, useSession } from "../session.tsx";
import { Link } from "../router.tsx";
import { Amount, Empty, ErrorNote, Loading, PageHeader, Section, Table } from "../components/ui.tsx";
import { accountLabel, amount, bucketLabel, when } from "../format.ts";

const LedgerChart = lazy(() => import("../components/charts.tsx").then((m) => ({ default: m.LedgerChart })));
const UsageChart = lazy(() => import("../components/charts.tsx").then((m) => ({ default: m.UsageChart })));

const RANGES = {
  "48h": { label: "Last 48 hours", ms: 48 * 3_600_000, bucket: "hour" as const },
  "7d": { label: "Last 7 days", ms: 7 * 86_400_000, bucket: "day" as const },
  "30d": { label: "Last 30 days", ms: 30 * 86_400_000, bucket: "day" as const },
  "90d": { label: "Last 90 days", ms: 90 * 86_400_000, bucket: "day" as const },
};
type RangeKey = keyof typeof RANGES;

/** The server's unit pattern: anything else would come back as a 400 from every stats call. */
const UNIT_PATTERN = /^[a-z][a-z0-9_.-]{0,63}$/;
/** The server's default for the low-balance threshold, used when the field is left empty. */
const DEFAULT_THRESHOLD = 100;

export function Overview() {
  const { has } = useSession();
  const [range, setRange] = useState<RangeKey>("30d");
  const [unit, setUnit] = useState("credits");
  const [unitInput, setUnitInput] = useState("credits");
  // Text, so the field can be emptied (meaning the server's default) without snapping to 0.
  const [thresholdText, setThresholdText] = useState(String(DEFAULT_THRESHOLD));
  const thresholdNumber = Math.floor(Number(thresholdText));
  const threshold = thresholdText.trim() === "" || !Number.isFinite(thresholdNumber) || thresholdNumber < 0 ? DEFAULT_THRESHOLD : thresholdNumber;
  // Only a valid unit is ever applied; an invalid one leaves the last valid unit in use.
  const applyUnit = () => {
    const next = unitInput.trim() || "credits";
    if (UNIT_PATTERN.test(next)) setUnit(next);
  };
  const unitInvalid = unitInput.trim() !== "" && !UNIT_PATTERN.test(unitInput.trim());

  // The period is fixed when the range changes, so re-renders do not refetch with a new "now".
  const period = useMemo(() => {
    const r = RANGES[range];
    const to = Date.now();
    const step = r.bucket === "hour" ? 3_600_000 : 86_400_000;
    const end = Math.ceil(to / step) * step;
    return { from: new Date(end - r.ms).toISOString(), to: new Date(end).toISOString(), bucket: r.bucket };
  }, [range]);

  const statsAvailable = has("GET", "/v1/stats/ledger");
  const ledger = useGet<LedgerStats>(statsAvailable ? "/v1/stats/ledger" : null, { ...period, unit });
  const top = useGet<{ items: Array<AccountRef & { spent: number; transactions: number }> }>(statsAvailable ? "/v1/stats/top-accounts" : null, {
    from: period.from,
    to: period.to,
    unit,
    limit: 10,
  });
  const low = useGet<{ items: Array<AccountRef & { balance: number; reserved: number; available: number }> }>(
    statsAvailable ? "/v1/stats/low-balances" : null,
    { unit, threshold, limit: 10 },
  );
  const usage = useGet<{ rows: UsageSummaryRow[] }>("/v1/usage/summary", { groupBy: "model", from: period.from, to: period.to });
  const holds = useGet<Page<Reservation>>("/v1/reservations", { status: "held", limit: 10 });

  return (
    <>
      <PageHeader title="Overview" subtitle={`${RANGES[range].label}, in ${unit} (UTC)`}>
        <form
          className="row filters"
          onSubmit={(e) => {
            e.preventDefault();
            applyUnit();
          }}
        >
          <div className="field inline">
            <label htmlFor="range">Period</label>
            <select id="range" value={range} onChange={(e) => setRange(e.target.value as RangeKey)}>
              {Object.entries(RANGES).map(([k, r]) => (
                <option key={k} value={k}>
                  {r.label}
                </option>
              ))}
            </select>
          </div>
          <div className="field inline">
            <label htmlFor="unit">Unit</label>
            <input
              id="unit"
              value={unitInput}
              onChange={(e) => setUnitInput(e.target.value)}
              onBlur={applyUnit}
              size={10}
              maxLength={64}
              pattern="[a-z][a-z0-9_.\-]{0,63}"
              aria-invalid={unitInvalid}
              aria-describedby={unitInvalid ? "unit-error" : undefined}
            />
            {unitInvalid && (
              <small id="unit-error" className="field-error" role="alert">
                Units are lowercase letters, digits, _ . or -, starting with a letter; still showing {unit}.
              </small>
            )}
          </div>
        </form>
      </PageHeader>

      {!statsAvailable && <p className="note">This server has no /v1/stats endpoints; ledger charts are unavailable.</p>}
      {ledger.error !== undefined && <ErrorNote error={ledger.error} />}
      {ledger.data !== undefined && (
        <div className="kpis" role="list" aria-label="Totals for the period">
          <Kpi label="Granted" value={ledger.data.totals.granted} />
          <Kpi label="Spent" value={ledger.data.totals.spent} />
          <Kpi label="Refunded" value={ledger.data.totals.refunded} />
          <Kpi label="Expired" value={ledger.data.totals.expired} />
          <Kpi label="Held now" value={ledger.data.heldNow.amount} note={`${ledger.data.heldNow.count} live reservation${ledger.data.heldNow.count === 1 ? "" : "s"}`} />
        </div>
      )}

      <div className="grid two">
        <Section title="Credits over time">
          {ledger.loading && ledger.data === undefined ? (
            <Loading />
          ) : ledger.data !== undefined ? (
            <>
              <Suspense fallback={<Loading label="Loading chart…" />}>
                <LedgerChart stats={ledger.data} />
              </Suspense>
              <details>
                <summary>Show the numbers</summary>
                <Table
                  caption="Credits granted, spent and reserved per period"
                  head={
                    <tr>
                      <th scope="col">{ledger.data.bucket === "day" ? "Day" : "Hour"}</th>
                      <th scope="col" className="num">Granted</th>
                      <th scope="col" className="num">Spent</th>
                      <th scope="col" className="num">Reserved</th>
                      <th scope="col" className="num">Refunded</th>
                      <th scope="col" className="num">Expired</th>
                    </tr>
                  }
                >
                  {ledger.data.buckets
                    .filter((b) => b.granted || b.spent || b.reserved || b.refunded || b.expired)
                    .map((b) => (
                      <tr key={b.start}>
                        <td>{bucketLabel(b.start, ledger.data!.bucket)}</td>
                        <td className="num">{amount(b.granted)}</td>
                        <td className="num">{amount(b.spent)}</td>
                        <td className="num">{amount(b.reserved)}</td>
                        <td className="num">{amount(b.refunded)}</td>
                        <td className="num">{amount(b.expired)}</td>
                      </tr>
                    ))}
                </Table>
              </details>
            </>
          ) : null}
        </Section>

        <Section title="Usage by model">
          {usage.error !== undefined ? (
            <ErrorNote error={usage.error} what="Usage" />
          ) : usage.data === undefined ? (
            <Loading />
          ) : usage.data.rows.length === 0 ? (
            <Empty>No usage recorded in this period.</Empty>
          ) : (
            <>
              <Suspense fallback={<Loading label="Loading chart…" />}>
                <UsageChart rows={usage.data.rows} />
              </Suspense>
              <Table
                caption="Usage by model"
                head={
                  <tr>
                    <th scope="col">Model</th>
                    <th scope="col" className="num">Events</th>
                    <th scope="col" className="num">Input tokens</th>
                    <th scope="col" className="num">Output tokens</th>
                    <th scope="col" className="num">Credits</th>
                  </tr>
                }
              >
                {[...usage.data.rows]
                  .sort((a, b) => b.credits - a.credits)
                  .map((r) => (
                    <tr key={r.key}>
                      <td>{r.key}</td>
                      <td className="num">{amount(r.events)}</td>
                      <td className="num">{amount(r.inputTokens)}</td>
                      <td className="num">{amount(r.outputTokens)}</td>
                      <td className="num">{amount(r.credits)}</td>
                    </tr>
                  ))}
              </Table>
            </>
          )}
        </Section>
      </div>

      <div className="grid two">
        <Section title="Top accounts by spend">
          {top.error !== undefined ? (
            <ErrorNote error={top.error} />
          ) : top.data === undefined ? (
            statsAvailable ? <Loading /> : null
          ) : top.data.items.length === 0 ? (
            <Empty>Nothing was spent in this period.</Empty>
          ) : (
            <Table
              caption="Top accounts by spend"
              head={
                <tr>
                  <th scope="col">Account</th>
                  <th scope="col" className="num">Spent</th>
                  <th scope="col" className="num">Transactions</th>
                </tr>
              }
            >
              {top.data.items.map((a) => (
                <tr key={a.accountId}>
                  <td>
                    <Link to={`/accounts/${encodeURIComponent(a.accountId)}`}>{accountLabel(a)}</Link>
                  </td>
                  <td className="num">{amount(a.spent)}</td>
                  <td className="num">{amount(a.transactions)}</td>
                </tr>
              ))}
            </Table>
          )}
        </Section>

        <Section
          title="Low balances"
          actions={
            <div className="field inline">
              <label htmlFor="threshold">Below</label>
              <input
                id="threshold"
                type="number"
                min={0}
                step={1}
                value={thresholdText}
                placeholder={String(DEFAULT_THRESHOLD)}
                onChange={(e) => setThresholdText(e.target.value)}
                className="narrow"
                aria-describedby="threshold-hint"
              />
              <span id="threshold-hint" className="sr-only">
                Empty uses the default, {DEFAULT_THRESHOLD}.
              </span>
            </div>
          }
        >
          {low.error !== undefined ? (
            <ErrorNote error={low.error} />
          ) : low.data === undefined ? (
            statsAvailable ? <Loading /> : null
          ) : low.data.items.length === 0 ? (
            <Empty>No account has less than {amount(threshold)} available.</Empty>
          ) : (
            <Table
              caption="Accounts with a low available balance"
              head={
                <tr>
                  <th scope="col">Account</th>
                  <th scope="col" className="num">Available</th>
                  <th scope="col" className="num">Reserved</th>
                </tr>
              }
            >
              {low.data.items.map((a) => (
                <tr key={a.accountId}>
                  <td>
                    <Link to={`/accounts/${encodeURIComponent(a.accountId)}`}>{accountLabel(a)}</Link>
                  </td>
                  <td className="num">{amount(a.available)}</td>
                  <td className="num">{amount(a.reserved)}</td>
                </tr>
              ))}
            </Table>
          )}
        </Section>
      </div>

      <Section title="Live reservations" actions={<button type="button" onClick={holds.reload}>Refresh</button>}>
        {holds.error !== undefined ? (
          <ErrorNote error={holds.error} />
        ) : holds.data === undefined ? (
          <Loading />
        ) : holds.data.items.length === 0 ? (
          <Empty>No credits are on hold right now.</Empty>
        ) : (
          <Table
            caption="Reservations currently held"
            head={
              <tr>
                <th scope="col">Reservation</th>
                <th scope="col">Account</th>
                <th scope="col" className="num">Held</th>
                <th scope="col">Operation</th>
                <th scope="col">Expires</th>
              </tr>
            }
          >
            {holds.data.items.map((r) => (
              <tr key={r.id}>
                <td>
                  <code>{r.id}</code>
                </td>
                <td>
                  <Link to={`/accounts/${encodeURIComponent(r.accountId)}`}>{r.accountId}</Link>
                </td>
                <td className="num">
                  <Amount value={r.amount - r.capturedAmount} /> {r.unit}
                </td>
                <td>{r.operation ?? "—"}</td>
                <td>{when(r.expiresAt)}</td>
              </tr>
            ))}
          </Table>
        )}
      </Section>
    </>
  );
}

function Kpi(props: { label: string; value: number; note?: string }) {
  return (
    <div className="kpi" role="listitem">
      <span className="kpi-label">{props.label}</span>
      <span className="kpi-value">{amount(props.value)}</span>
      {props.note !== undefined && <span className="kpi-note muted">{props.note}</span>}
    </div>
  );
}

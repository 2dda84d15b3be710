import { Area, AreaChart, Bar, BarChart, CartesianGrid, Legend, ResponsiveContainer, Tooltip, XAxis, YAxis } from "recharts";
import type { LedgerStats, UsageSummaryRow } from "../api.ts";
import { amount, bucketLabel, short } from "../format.ts";

/*
 * Loaded on demand (React.lazy) so the charting library is not in the first download. Every
 * chart has its numbers in a table next to it (see the pages), so nothing is only visual.
 */

const COLORS = { granted: "#1b7f3b", spent: "#b3261e", reserved: "#7a4fc4", refunded: "#0b62a4" };

export function LedgerChart(props: { stats: LedgerStats }) {
  const data = props.stats.buckets.map((b) => ({ ...b, label: bucketLabel(b.start, props.stats.bucket) }));
  return (
    <div className="chart" aria-hidden="true">
      <ResponsiveContainer width="100%" height={280}>
        <AreaChart data={data} margin={{ top: 8, right: 12, left: 0, bottom: 0 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#d6d9de" />
          <XAxis dataKey="label" tick={{ fontSize: 12, fill: "#3b4049" }} minTickGap={24} />
          <YAxis tickFormatter={short} tick={{ fontSize: 12, fill: "#3b4049" }} width={56} />
          <Tooltip formatter={(v) => amount(Number(v))} />
          <Legend />
          <Area type="monotone" dataKey="granted" name="Granted" stroke={COLORS.granted} fill={COLORS.granted} fillOpacity={0.12} isAnimationActive={false} />
          <Area type="monotone" dataKey="spent" name="Spent" stroke={COLORS.spent} fill={COLORS.spent} fillOpacity={0.12} isAnimationActive={false} />
          <Area type="monotone" dataKey="reserved" name="Reserved" stroke={COLORS.reserved} fill={COLORS.reserved} fillOpacity={0.08} strokeDasharray="5 3" isAnimationActive={false} />
        </AreaChart>
      </ResponsiveContainer>
    </div>
  );
}

export function UsageChart(props: { rows: UsageSummaryRow[] }) {
  const data = [...props.rows].sort((a, b) => b.credits - a.credits).slice(0, 12);
  return (
    <div className="chart" aria-hidden="true">
      <ResponsiveContainer width="100%" height={Math.max(160, data.length * 34 + 40)}>
        <BarChart data={data} layout="vertical" margin={{ top: 4, right: 16, left: 8, bottom: 4 }}>
          <CartesianGrid strokeDasharray="3 3" stroke="#d6d9de" horizontal={false} />
          <XAxis type="number" tickFormatter={short} tick={{ fontSize: 12, fill: "#3b4049" }} />
          <YAxis type="category" dataKey="key" width={130} tick={{ fontSize: 12, fill: "#3b4049" }} />
          <Tooltip formatter={(v) => amount(Number(v))} />
          <Bar dataKey="credits" name="Credits charged" fill={COLORS.refunded} isAnimationActive={false} />
        </BarChart>
      </ResponsiveContainer>
    </div>
  );
}

import type { Metric, Registry } from "prom-client";

/** Upper bounds of the latency histogram's buckets, in seconds. */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];

/**
 * Cells kept before new (route, method) pairs are counted under route "other". Routes are the
 * registered patterns (or "unmatched") and Node's parser knows a few dozen methods, so this is
 * never reached in practice; it bounds memory all the same.
 */
const CELLS_MAX = 4096;

/** One (route, method)'s requests: counts by status and the latency histogram. */
interface Cell {
  readonly route: string;
  readonly method: string;
  readonly countByStatus: Map<number, number>;
  /** Per bucket, not cumulative; the last slot counts what exceeds every bound. */
  readonly bucketCounts: number[];
  sumSeconds: number;
  count: number;
}

/** What prom-client's registry reads from a metric: `get()` and its identity. */
interface ExposedMetric {
  readonly name: string;
  readonly help: string;
  readonly type: "counter" | "histogram";
  readonly aggregator: "sum";
  get(): Promise<{ name: string; help: string; type: string; aggregator: "sum"; values: ExposedValue[] }>;
}

interface ExposedValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/**
 * The two metrics recorded on every request, `tally_http_requests_total` (method, route,
 * status) and `tally_http_request_duration_seconds` (method, route), kept as plain numbers per
 * route and handed to prom-client's registry only when /metrics is scraped. prom-client's own
 * Counter and Histogram build and validate a label key string on every call. Counting a deduct
 * (this and the ledger-operation counter, see Metrics) took ~14,900 instructions that way and
 * takes ~1,540 now (callgrind, 800,000 calls); a balance read is ~170,000 in all. A request
 * costs two Map lookups on strings whose hashes V8 has cached (the route pattern and the
 * parser's method name) and one on the status. prom-client still formats the output.
 */
export class RequestMetrics {
  private readonly cellsByRoute = new Map<string, Map<string, Cell>>();
  private readonly cells: Cell[] = [];

  observe(method: string, route: string, status: number, seconds: number): void {
    let byMethod = this.cellsByRoute.get(route);
    let cell = byMethod?.get(method);
    if (cell === undefined) {
      if (this.cells.length >= CELLS_MAX && route !== "other") return this.observe(method, "other", status, seconds);
      cell = { route, method, countByStatus: new Map(), bucketCounts: new Array<number>(LATENCY_BUCKETS_SECONDS.length + 1).fill(0), sumSeconds: 0, count: 0 };
      if (byMethod === undefined) {
        byMethod = new Map();
        this.cellsByRoute.set(route, byMethod);
      }
      byMethod.set(method, cell);
      this.cells.push(cell);
    }
    cell.countByStatus.set(status, (cell.countByStatus.get(status) ?? 0) + 1);
    let bucket = 0;
    while (bucket < LATENCY_BUCKETS_SECONDS.length && seconds > LATENCY_BUCKETS_SECONDS[bucket]!) bucket++;
    cell.bucketCounts[bucket]!++;
    cell.sumSeconds += seconds;
    cell.count++;
  }

  /** Registers both metrics with `registry`, where /metrics reads them. */
  register(registry: Registry): void {
    registry.registerMetric(exposed("tally_http_requests_total", "HTTP requests by route and status", "counter", () => this.requestCounts()) as unknown as Metric);
    registry.registerMetric(exposed("tally_http_request_duration_seconds", "HTTP request latency by route", "histogram", () => this.latencies()) as unknown as Metric);
  }

  private requestCounts(): ExposedValue[] {
    const values: ExposedValue[] = [];
    for (const c of this.cells) {
      for (const [status, count] of c.countByStatus) values.push({ value: count, labels: { method: c.method, route: c.route, status: String(status) } });
    }
    return values;
  }

  /** Prometheus's histogram series: cumulative buckets, `+Inf`, sum and count, per cell. */
  private latencies(): ExposedValue[] {
    const name = "tally_http_request_duration_seconds";
    const values: ExposedValue[] = [];
    for (const c of this.cells) {
      let cumulative = 0;
      for (let i = 0; i < LATENCY_BUCKETS_SECONDS.length; i++) {
        cumulative += c.bucketCounts[i]!;
        values.push({ metricName: `${name}_bucket`, value: cumulative, labels: { le: LATENCY_BUCKETS_SECONDS[i]!, method: c.method, route: c.route } });
      }
      values.push({ metricName: `${name}_bucket`, value: c.count, labels: { le: "+Inf", method: c.method, route: c.route } });
      values.push({ metricName: `${name}_sum`, value: c.sumSeconds, labels: { method: c.method, route: c.route } });
      values.push({ metricName: `${name}_count`, value: c.count, labels: { method: c.method, route: c.route } });
    }
    return values;
  }
}

/** A metric prom-client's registry can read, whose values are computed when it is scraped. */
function exposed(name: string, help: string, type: ExposedMetric["type"], values: () => ExposedValue[]): ExposedMetric {
  return { name, help, type, aggregator: "sum", get: async () => ({ name, help, type, aggregator: "sum", values: values() }) };
}

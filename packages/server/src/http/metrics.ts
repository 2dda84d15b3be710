import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

/** Prometheus metrics, one registry per server instance (tests run several in one process). */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests: Counter<"method" | "route" | "status">;
  private readonly latency: Histogram<"method" | "route">;
  readonly ledgerOperations: Counter<"operation" | "outcome">;
  readonly dbPool: Gauge<"state">;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: "tally_http_requests_total",
      help: "HTTP requests by route and status",
      labelNames: ["method", "route", "status"],
      registers: [this.registry],
    });
    this.latency = new Histogram({
      name: "tally_http_request_duration_seconds",
      help: "HTTP request latency by route",
      labelNames: ["method", "route"],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.registry],
    });
    this.ledgerOperations = new Counter({
      name: "tally_ledger_operations_total",
      help: "Ledger operations by kind and outcome",
      labelNames: ["operation", "outcome"],
      registers: [this.registry],
    });
    this.dbPool = new Gauge({
      name: "tally_db_pool_connections",
      help: "Database pool connections by state (PostgreSQL)",
      labelNames: ["state"],
      registers: [this.registry],
    });
  }

  private readonly ledgerChildren = new Map<string, { inc: () => void }>();

  /** Counts one ledger operation; each (operation, outcome) is resolved to its counter once. */
  countLedgerOperation(operation: string, outcome: string): void {
    const key = `${operation} ${outcome}`;
    let child = this.ledgerChildren.get(key);
    if (child === undefined) {
      child = this.ledgerOperations.labels({ operation, outcome });
      this.ledgerChildren.set(key, child);
    }
    child.inc();
  }

  /**
   * Each (method, route, status) resolved to its children once: prom-client would otherwise
   * hash the label object on every request. Routes are the registered patterns, so the map is
   * bounded by routes × methods × statuses.
   */
  private readonly children = new Map<string, { count: () => void; time: (seconds: number) => void }>();

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const key = `${method} ${status} ${route}`;
    let child = this.children.get(key);
    if (child === undefined) {
      const counter = this.requests.labels({ method, route, status: String(status) });
      const histogram = this.latency.labels({ method, route });
      child = { count: () => counter.inc(), time: (s) => histogram.observe(s) };
      if (this.children.size < 10_000) this.children.set(key, child);
    }
    child.count();
    child.time(seconds);
  }
}

import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import { RequestMetrics } from "./request-metrics.ts";

/** Prometheus metrics, one registry per server instance (tests run several in one process). */
export class Metrics {
  readonly registry = new Registry();
  private readonly requests = new RequestMetrics();
  /** Ledger operations counted so far, by operation then outcome (a handful of each). */
  private readonly ledgerCounts = new Map<string, Map<string, number>>();
  readonly dbPool: Gauge<"state">;
  /** Requests answered by the direct dispatcher (direct-routes.ts) rather than Fastify. */
  private directRequests = 0;

  constructor(options: { defaultMetrics?: boolean } = {}) {
    if (options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
    this.requests.register(this.registry);
    const ledgerCounts = this.ledgerCounts;
    new Counter({
      name: "tally_ledger_operations_total",
      help: "Ledger operations by kind and outcome",
      labelNames: ["operation", "outcome"],
      registers: [this.registry],
      // Counted as plain numbers (see countLedgerOperation) and copied in when scraped.
      collect() {
        this.reset();
        for (const [operation, byOutcome] of ledgerCounts) for (const [outcome, count] of byOutcome) this.inc({ operation, outcome }, count);
      },
    });
    const metrics = this;
    new Counter({
      name: "tally_http_direct_requests_total",
      help: "HTTP requests answered without Fastify, by the direct dispatcher of the hot routes (docs/performance.md)",
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(metrics.directRequests);
      },
    });
    this.dbPool = new Gauge({
      name: "tally_db_pool_connections",
      help: "Database connections by state (total, idle) and work waiting for one (waiting)",
      labelNames: ["state"],
      registers: [this.registry],
    });
  }

  /**
   * Counts one ledger operation. A prom-client counter builds and checks a label key on every
   * `inc`; the operations and outcomes are a few constant strings, so two Map lookups do here.
   */
  countLedgerOperation(operation: string, outcome: string): void {
    let byOutcome = this.ledgerCounts.get(operation);
    if (byOutcome === undefined) {
      byOutcome = new Map();
      this.ledgerCounts.set(operation, byOutcome);
    }
    byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
  }

  countDirectRequest(): void {
    this.directRequests++;
  }

  /** Counts one answered request and its latency; `route` is the registered pattern. */
  observeRequest(method: string, route: string, status: number, seconds: number): void {
    this.requests.observe(method, route, status, seconds);
  }
}

import { Counter, Histogram, Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { LATENCY_BUCKETS_SECONDS, RequestMetrics } from "../../src/http/request-metrics.ts";
import { Metrics } from "../../src/http/metrics.ts";

/** The same observations through prom-client's own Counter and Histogram, for comparison. */
function reference(observations: ReadonlyArray<[string, string, number, number]>): Registry {
  const registry = new Registry();
  const counter = new Counter({ name: "tally_http_requests_total", help: "HTTP requests by route and status", labelNames: ["method", "route", "status"], registers: [registry] });
  const histogram = new Histogram({
    name: "tally_http_request_duration_seconds",
    help: "HTTP request latency by route",
    labelNames: ["method", "route"],
    buckets: [...LATENCY_BUCKETS_SECONDS],
    registers: [registry],
  });
  for (const [method, route, status, seconds] of observations) {
    counter.inc({ method, route, status: String(status) });
    histogram.observe({ method, route }, seconds);
  }
  return registry;
}

/** Series lines sorted, so only content counts, not the order series were first seen in. */
const lines = (text: string) => text.split("\n").filter((l) => l.length > 0).sort();

describe("per-request HTTP metrics", () => {
  it("exposes exactly what prom-client's Counter and Histogram would for the same requests (bucket edges, +Inf, sum, count, escaping)", async () => {
    const observations: Array<[string, string, number, number]> = [
      ["GET", "/v1/accounts/:accountId/balance", 200, 0.0004],
      ["GET", "/v1/accounts/:accountId/balance", 200, 0.0005], // on a bound: counted in that bucket
      ["GET", "/v1/accounts/:accountId/balance", 404, 0.003],
      ["POST", "/v1/credits/deduct", 201, 0.012],
      ["POST", "/v1/credits/deduct", 402, 7.5], // past every bound: only +Inf
      ["POST", "/v1/credits/deduct", 201, 0],
      ["GET", 'unmatched "odd\\route"\n', 404, 0.05],
    ];
    const mine = new RequestMetrics();
    const registry = new Registry();
    mine.register(registry);
    for (const [method, route, status, seconds] of observations) mine.observe(method, route, status, seconds);
    expect(lines(await registry.metrics())).toEqual(lines(await reference(observations).metrics()));
  });

  it("counts 10,000 random requests like prom-client does", async () => {
    const routes = ["/a", "/b/:id", "/c"];
    const methods = ["GET", "POST", "DELETE"];
    const statuses = [200, 201, 400, 402, 404, 500];
    let seed = 7;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const observations: Array<[string, string, number, number]> = Array.from({ length: 10_000 }, () => [
      methods[next(3)]!,
      routes[next(3)]!,
      statuses[next(6)]!,
      next(8000) / 1000,
    ]);
    const mine = new RequestMetrics();
    const registry = new Registry();
    mine.register(registry);
    for (const [method, route, status, seconds] of observations) mine.observe(method, route, status, seconds);
    const got = lines(await registry.metrics());
    const want = lines(await reference(observations).metrics());
    // Sums of floating-point seconds may differ in the last digits with the order of addition.
    const sums = (l: string[]) => l.filter((x) => x.includes("_sum"));
    expect(got.filter((x) => !x.includes("_sum"))).toEqual(want.filter((x) => !x.includes("_sum")));
    const parse = (l: string[]) => sums(l).map((x) => Number(x.split(" ").at(-1)));
    parse(got).forEach((v, i) => expect(v).toBeCloseTo(parse(want)[i]!, 6));
  });

  it("counts ledger operations by operation and outcome, scrape after scrape", async () => {
    const metrics = new Metrics({ defaultMetrics: false });
    metrics.countLedgerOperation("deduct", "ok");
    metrics.countLedgerOperation("deduct", "ok");
    metrics.countLedgerOperation("deduct", "replayed");
    const first = await metrics.registry.metrics();
    expect(first).toContain('tally_ledger_operations_total{operation="deduct",outcome="ok"} 2');
    expect(first).toContain('tally_ledger_operations_total{operation="deduct",outcome="replayed"} 1');
    metrics.countLedgerOperation("deduct", "ok");
    // A scrape copies totals in; a second one must not add them again.
    const second = await metrics.registry.metrics();
    expect(second).toContain('tally_ledger_operations_total{operation="deduct",outcome="ok"} 3');
    expect(second).toContain('tally_ledger_operations_total{operation="deduct",outcome="replayed"} 1');
  });
});

import { Type } from "typebox";
import type { Router } from "../router.ts";
import type { RouteDeps } from "./deps.ts";
import { NonNegativeAmount, Timestamp, Unit, strictObject } from "../schemas/common.ts";
import { toIso } from "../../domain/clock.ts";
import { validationError } from "../../domain/errors.ts";
import { DEFAULT_UNIT } from "../../domain/balances.ts";
import * as stats from "../../store/repo/stats.ts";

/**
 * Read-only aggregates behind the dashboard's overview (`/v1/stats/…`, read scope). They answer
 * "how much was granted and spent, by whom, and who is about to run out" without the browser
 * paging through the whole ledger.
 */

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;
/** A chart wider than this is unreadable and the query would scan too much. */
const BUCKETS_MAX = 1000;
const LIST_MAX = 100;

const Bucket = Type.Union([Type.Literal("day"), Type.Literal("hour")]);

const AccountRefOut = {
  accountId: Type.String(),
  externalId: Type.Union([Type.String(), Type.Null()]),
  name: Type.Union([Type.String(), Type.Null()]),
  email: Type.Union([Type.String(), Type.Null()]),
};

const LedgerBucket = Type.Object(
  {
    start: Timestamp,
    granted: Type.Integer(),
    spent: Type.Integer(),
    refunded: Type.Integer(),
    expired: Type.Integer(),
    clawedBack: Type.Integer(),
    reserved: Type.Integer(),
  },
  { title: "LedgerBucket" },
);

/** `[from, to)` from the query, defaulting to the last `defaultSpanMs` before now. */
function windowOf(query: { from?: string | undefined; to?: string | undefined }, nowMs: number, defaultSpanMs: number): { fromMs: number; toMs: number } {
  const toMs = query.to !== undefined ? Date.parse(query.to) : nowMs;
  const fromMs = query.from !== undefined ? Date.parse(query.from) : toMs - defaultSpanMs;
  if (fromMs >= toMs) throw validationError("/from", "`from` must be before `to`");
  return { fromMs, toMs };
}

export function statsRoutes(r: Router, _deps: RouteDeps): void {
  r.add(
    {
      method: "GET",
      url: "/v1/stats/ledger",
      auth: "app",
      tag: "Stats",
      summary: "Credits granted, spent, refunded, expired and reserved per day or hour (UTC buckets, empty ones included)",
      query: strictObject({
        unit: Type.Optional(Unit),
        from: Type.Optional(Timestamp),
        to: Type.Optional(Timestamp),
        bucket: Type.Optional(Bucket),
      }),
      responses: {
        200: Type.Object({
          unit: Type.String(),
          bucket: Bucket,
          from: Timestamp,
          to: Timestamp,
          buckets: Type.Array(LedgerBucket),
          totals: Type.Object({ granted: Type.Integer(), spent: Type.Integer(), refunded: Type.Integer(), expired: Type.Integer(), clawedBack: Type.Integer(), reserved: Type.Integer() }),
          heldNow: Type.Object({ amount: Type.Integer(), count: Type.Integer() }),
        }),
      },
    },
    async ({ scope, query }) => {
      const bucket = query.bucket ?? "day";
      const bucketMs = bucket === "day" ? DAY_MS : HOUR_MS;
      const nowMs = scope.clock.nowMs();
      const { fromMs, toMs } = windowOf(query, nowMs, bucket === "day" ? 30 * DAY_MS : 48 * HOUR_MS);
      const firstBucket = Math.floor(fromMs / bucketMs);
      const lastBucket = Math.floor((toMs - 1) / bucketMs);
      if (lastBucket - firstBucket + 1 > BUCKETS_MAX) {
        throw validationError("/from", `at most ${BUCKETS_MAX} ${bucket} buckets per request; narrow from/to or use a larger bucket`);
      }
      const unit = query.unit ?? DEFAULT_UNIT;
      const [rows, heldNow] = await scope.db.read(async (q) => [
        await stats.ledgerSeries(q, scope.appId, { unit, fromMs, toMs, bucketMs }),
        await stats.liveHolds(q, scope.appId, unit, nowMs),
      ] as const);
      // Empty buckets are filled in so a chart's x axis is continuous.
      const found = new Map(rows.map((row) => [row.startMs, row]));
      const buckets = [];
      const totals = { granted: 0, spent: 0, refunded: 0, expired: 0, clawedBack: 0, reserved: 0 };
      for (let b = firstBucket; b <= lastBucket; b++) {
        const startMs = b * bucketMs;
        const row = found.get(startMs);
        const out = {
          start: toIso(startMs),
          granted: row?.granted ?? 0,
          spent: row?.spent ?? 0,
          refunded: row?.refunded ?? 0,
          expired: row?.expired ?? 0,
          clawedBack: row?.clawedBack ?? 0,
          reserved: row?.reserved ?? 0,
        };
        totals.granted += out.granted;
        totals.spent += out.spent;
        totals.refunded += out.refunded;
        totals.expired += out.expired;
        totals.clawedBack += out.clawedBack;
        totals.reserved += out.reserved;
        buckets.push(out);
      }
      return { unit, bucket, from: toIso(fromMs), to: toIso(toMs), buckets, totals, heldNow };
    },
  );

  r.add(
    {
      method: "GET",
      url: "/v1/stats/top-accounts",
      auth: "app",
      tag: "Stats",
      summary: "Accounts that spent the most in a window (default: the last 30 days)",
      query: strictObject({
        unit: Type.Optional(Unit),
        from: Type.Optional(Timestamp),
        to: Type.Optional(Timestamp),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIST_MAX, default: 10 })),
      }),
      responses: {
        200: Type.Object({ items: Type.Array(Type.Object({ ...AccountRefOut, spent: Type.Integer(), transactions: Type.Integer() })) }),
      },
    },
    async ({ scope, query }) => {
      const { fromMs, toMs } = windowOf(query, scope.clock.nowMs(), 30 * DAY_MS);
      const items = await scope.db.read((q) =>
        stats.topSpenders(q, scope.appId, { unit: query.unit ?? DEFAULT_UNIT, fromMs, toMs, limit: query.limit ?? 10 }),
      );
      return { items };
    },
  );

  r.add(
    {
      method: "GET",
      url: "/v1/stats/low-balances",
      auth: "app",
      tag: "Stats",
      summary: "Accounts whose available credits are below a threshold (default 100), lowest first",
      query: strictObject({
        unit: Type.Optional(Unit),
        threshold: Type.Optional(NonNegativeAmount),
        limit: Type.Optional(Type.Integer({ minimum: 1, maximum: LIST_MAX, default: 20 })),
      }),
      responses: {
        200: Type.Object({
          threshold: Type.Integer(),
          items: Type.Array(Type.Object({ ...AccountRefOut, balance: Type.Integer(), reserved: Type.Integer(), available: Type.Integer() })),
        }),
      },
    },
    async ({ scope, query }) => {
      const threshold = query.threshold ?? 100;
      const items = await scope.db.read((q) => stats.lowBalances(q, scope.appId, { unit: query.unit ?? DEFAULT_UNIT, threshold, limit: query.limit ?? 20 }));
      return { threshold, items };
    },
  );
}

import { describe, expect, it } from "vitest";
import { compareBurnOrder, isExpired, planBurn } from "../../src/domain/burn-order.ts";
import type { LotRecord } from "../../src/store/records.ts";

const NOW = Date.parse("2026-06-01T00:00:00.000Z");

function lot(id: string, fields: Partial<LotRecord> = {}): LotRecord {
  const amount = fields.amount ?? fields.remaining ?? 10;
  return {
    id,
    accountId: "acct_1",
    unit: "credits",
    amount,
    remaining: amount,
    held: 0,
    consumed: 0,
    expired: 0,
    priority: 0,
    expiresAtMs: null,
    source: "manual",
    reference: null,
    description: null,
    metadata: {},
    transactionId: `txn_${id}`,
    createdAtMs: NOW - 1000,
    ...fields,
  };
}

const order = (lots: LotRecord[]): string[] => [...lots].sort(compareBurnOrder).map((l) => l.id);

describe("compareBurnOrder", () => {
  it("burns the lower priority first, whatever the expiry and age", () => {
    const lots = [
      lot("a", { priority: 5, expiresAtMs: NOW + 1, createdAtMs: NOW - 9000 }),
      lot("b", { priority: -3, expiresAtMs: null, createdAtMs: NOW }),
      lot("c", { priority: 0 }),
    ];
    expect(order(lots)).toEqual(["b", "c", "a"]);
  });

  it("among equal priorities burns the earliest expiry first and never-expiring lots last", () => {
    const lots = [
      lot("never", { expiresAtMs: null, createdAtMs: NOW - 99_000 }),
      lot("late", { expiresAtMs: NOW + 50_000 }),
      lot("soon", { expiresAtMs: NOW + 10 }),
    ];
    expect(order(lots)).toEqual(["soon", "late", "never"]);
  });

  it("among equal priority and expiry burns the oldest first", () => {
    const lots = [lot("young", { createdAtMs: NOW }), lot("old", { createdAtMs: NOW - 5000 }), lot("mid", { createdAtMs: NOW - 100 })];
    expect(order(lots)).toEqual(["old", "mid", "young"]);
    const expiring = [lot("young", { createdAtMs: NOW, expiresAtMs: NOW + 7 }), lot("old", { createdAtMs: NOW - 1, expiresAtMs: NOW + 7 })];
    expect(order(expiring)).toEqual(["old", "young"]);
  });

  it("breaks a full tie by id, so the order is total and the same on every database", () => {
    const lots = [lot("grt_B"), lot("grt_C"), lot("grt_A")];
    expect(order(lots)).toEqual(["grt_A", "grt_B", "grt_C"]);
    expect(compareBurnOrder(lot("x"), lot("x"))).toBe(0);
  });

  it("is antisymmetric on every pair of a mixed set", () => {
    const lots = [
      lot("a", { priority: 1 }),
      lot("b", { priority: 1, expiresAtMs: NOW + 5 }),
      lot("c", { priority: 1, expiresAtMs: NOW + 5, createdAtMs: NOW - 2 }),
      lot("d", { priority: 0, expiresAtMs: null }),
      lot("e", { priority: 0, expiresAtMs: null, createdAtMs: NOW - 2000 }),
    ];
    for (const x of lots) for (const y of lots) expect(Math.sign(compareBurnOrder(x, y))).toBe(-Math.sign(compareBurnOrder(y, x)) || 0);
  });
});

describe("isExpired", () => {
  it("counts a lot as expired from its expiresAt millisecond on, and a lot without expiry never", () => {
    expect(isExpired({ expiresAtMs: NOW + 1 }, NOW)).toBe(false);
    expect(isExpired({ expiresAtMs: NOW }, NOW)).toBe(true);
    expect(isExpired({ expiresAtMs: NOW - 1 }, NOW)).toBe(true);
    expect(isExpired({ expiresAtMs: null }, Number.MAX_SAFE_INTEGER)).toBe(false);
  });
});

describe("planBurn", () => {
  it("takes from lots in burn order, splitting the last lot it touches", () => {
    const lots = [lot("late", { amount: 10, expiresAtMs: NOW + 100 }), lot("never", { amount: 10 }), lot("first", { amount: 4, priority: -1 })];
    const plan = planBurn(lots, 9, NOW);
    expect(plan.steps.map((s) => [s.lot.id, s.amount])).toEqual([
      ["first", 4],
      ["late", 5],
    ]);
    expect(plan.shortBy).toBe(0);
    expect(plan.available).toBe(24);
  });

  it("takes an exact fit from one lot and leaves the others untouched", () => {
    const plan = planBurn([lot("a", { amount: 7 }), lot("b", { amount: 3, createdAtMs: NOW })], 7, NOW);
    expect(plan.steps.map((s) => [s.lot.id, s.amount])).toEqual([["a", 7]]);
  });

  it("skips lots expired at now (expiresAt ≤ now) and lots with nothing unheld left", () => {
    const lots = [
      lot("expired", { amount: 50, priority: -10, expiresAtMs: NOW }),
      lot("held", { amount: 20, remaining: 0, held: 20, priority: -5 }),
      lot("spent", { amount: 20, remaining: 0, consumed: 20, priority: -5 }),
      lot("live", { amount: 8, expiresAtMs: NOW + 1 }),
    ];
    const plan = planBurn(lots, 5, NOW);
    expect(plan.steps.map((s) => [s.lot.id, s.amount])).toEqual([["live", 5]]);
    expect(plan.available).toBe(8);
  });

  it("only uses the unheld part of a partly held lot", () => {
    const plan = planBurn([lot("a", { amount: 10, remaining: 4, held: 6 })], 5, NOW);
    expect(plan.available).toBe(4);
    expect(plan.shortBy).toBe(1);
  });

  it("reports shortBy and the total available when the lots cannot cover the amount", () => {
    const lots = [lot("a", { amount: 3 }), lot("b", { amount: 4 }), lot("gone", { amount: 100, expiresAtMs: NOW - 1 })];
    const plan = planBurn(lots, 10, NOW);
    expect(plan.available).toBe(7);
    expect(plan.shortBy).toBe(3);
    expect(plan.steps.reduce((s, x) => s + x.amount, 0)).toBe(7);
  });

  it("plans nothing for an account without lots", () => {
    expect(planBurn([], 1, NOW)).toEqual({ steps: [], available: 0, shortBy: 1 });
  });

  it("does not reorder or change the lots it was given", () => {
    const lots = [lot("b", { amount: 5, createdAtMs: NOW }), lot("a", { amount: 5 })];
    const before = JSON.stringify(lots);
    planBurn(lots, 7, NOW);
    expect(JSON.stringify(lots)).toBe(before);
  });
});

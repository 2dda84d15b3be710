import { describe, expect, it } from "vitest";
import { MonotonicClock, toIso, toIsoOrNull } from "../../src/domain/clock.ts";
import fc from "fast-check";

describe("the production clock", () => {
  it("does not follow steps of the wall clock: a hold cannot expire early (or late) when wall time jumps", () => {
    let wall = Date.parse("2026-11-21T10:00:00.000Z");
    let mono = 1_000;
    const clock = new MonotonicClock(
      () => wall,
      () => mono,
    );
    const start = clock.nowMs();
    expect(start).toBe(wall);
    wall += 3_600_000; // the system clock is stepped an hour forward…
    mono += 250; // …while 250 ms really pass
    expect(clock.nowMs()).toBe(start + 250);
    wall -= 7_200_000; // and two hours back
    mono += 750;
    expect(clock.nowMs()).toBe(start + 1_000);
  });

  it("moves with real elapsed time", async () => {
    const clock = new MonotonicClock();
    const before = clock.nowMs();
    await new Promise((r) => setTimeout(r, 30));
    const elapsed = clock.nowMs() - before;
    expect(elapsed).toBeGreaterThanOrEqual(25);
    expect(elapsed).toBeLessThan(5_000);
  });
});

describe("timestamps as ISO text", () => {
  it("formats every instant exactly as Date#toISOString does, however instants share its remembered slots", () => {
    const base = Date.parse("2026-12-08T00:00:00.000Z");
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: -1, max: 1024 }).map((d) => base + d), fc.integer({ min: -8.64e15, max: 8.64e15 }), fc.double({ min: -1e13, max: 1e13, noNaN: true })), { maxLength: 64 }), (instants) => {
        for (const ms of [...instants, ...instants.reverse()]) expect(toIso(ms)).toBe(new Date(ms).toISOString());
      }),
    );
    // Two instants 256 ms apart share a slot: each still reads as itself.
    expect(toIso(base)).toBe("2026-12-08T00:00:00.000Z");
    expect(toIso(base + 256)).toBe("2026-12-08T00:00:00.256Z");
    expect(toIso(base)).toBe("2026-12-08T00:00:00.000Z");
  });

  it("refuses what Date refuses (no remembered text for an invalid time) and maps null to null", () => {
    expect(() => toIso(Number.NaN)).toThrow(RangeError);
    expect(() => toIso(8.64e15 + 1)).toThrow(RangeError);
    expect(() => toIso(Number.POSITIVE_INFINITY)).toThrow(RangeError);
    expect(toIsoOrNull(null)).toBeNull();
    expect(toIsoOrNull(undefined)).toBeNull();
    expect(toIsoOrNull(0)).toBe("1970-01-01T00:00:00.000Z");
  });
});

import { describe, expect, it } from "vitest";
import { MonotonicClock } from "../../src/domain/clock.ts";

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

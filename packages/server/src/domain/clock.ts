/**
 * Where "now" comes from. Production uses wall time; tests and the simulator inject a clock they
 * move by hand, so expiry and renewals are tested without sleeping.
 */
export interface Clock {
  nowMs(): number;
}

/**
 * Wall time read once, then advanced by the monotonic clock. Expiry of holds and lots is decided
 * with this clock, so a step of the system clock (a manual change, an NTP step) can neither
 * expire a hold early nor keep it alive: only real elapsed time moves "now". The monotonic clock
 * (`performance.now()`, CLOCK_MONOTONIC) still follows NTP's gradual slewing, so it stays close
 * to true time. The price: if the wall clock was wrong when the process started, timestamps stay
 * off by that much until the next restart. Processes sharing a database must start with
 * synchronised clocks (NTP), as for any multi-node system.
 */
export class MonotonicClock implements Clock {
  private readonly anchorWallMs: number;
  private readonly anchorMonoMs: number;
  constructor(
    wallMs: () => number = Date.now,
    private readonly monoMs: () => number = () => performance.now(),
  ) {
    this.anchorWallMs = wallMs();
    this.anchorMonoMs = monoMs();
  }
  nowMs(): number {
    return Math.floor(this.anchorWallMs + (this.monoMs() - this.anchorMonoMs));
  }
}

export const systemClock: Clock = new MonotonicClock();

/** A clock that only moves when told to. */
export class ManualClock implements Clock {
  constructor(private currentMs: number = Date.parse("2026-01-01T00:00:00.000Z")) {}
  nowMs(): number {
    return this.currentMs;
  }
  advanceMs(ms: number): void {
    this.currentMs += ms;
  }
  set(ms: number): void {
    this.currentMs = ms;
  }
}

export function toIso(ms: number): string {
  return new Date(ms).toISOString();
}

export function toIsoOrNull(ms: number | null | undefined): string | null {
  return ms == null ? null : new Date(ms).toISOString();
}

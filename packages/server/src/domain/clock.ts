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

/**
 * The last few instants formatted, in slots by their low bits. Under load many answers carry the
 * same instants (every operation in a millisecond has the same `createdAt`; a confirm repeats its
 * reservation's `createdAt` and `expiresAt` milliseconds after the reserve's answer formatted
 * them), and `Date#toISOString` costs ~7,000 instructions where a hit costs a comparison. A hit
 * also hands `JSON.stringify` a string it has serialised before (session 23,
 * docs/performance-history.md).
 */
const ISO_SLOTS = 256;
const isoSlotMs = new Float64Array(ISO_SLOTS).fill(Number.NaN);
const isoSlotText: string[] = new Array<string>(ISO_SLOTS).fill("");

/** `new Date(ms).toISOString()`, remembered: same result, same RangeError for an invalid time. */
export function toIso(ms: number): string {
  const slot = ms & (ISO_SLOTS - 1);
  if (isoSlotMs[slot] === ms) return isoSlotText[slot]!;
  const text = new Date(ms).toISOString();
  isoSlotMs[slot] = ms;
  isoSlotText[slot] = text;
  return text;
}

export function toIsoOrNull(ms: number | null | undefined): string | null {
  return ms == null ? null : toIso(ms);
}

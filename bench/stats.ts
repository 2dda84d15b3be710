/** Latency samples in milliseconds, kept exactly (a run records at most a few million). */
export class Recorder {
  private samples = new Float64Array(1 << 16);
  private n = 0;

  record(ms: number): void {
    if (this.n === this.samples.length) {
      const grown = new Float64Array(this.samples.length * 2);
      grown.set(this.samples);
      this.samples = grown;
    }
    this.samples[this.n++] = ms;
  }

  get count(): number {
    return this.n;
  }

  summary(): LatencySummary {
    const sorted = this.samples.slice(0, this.n).sort();
    const at = (q: number): number => (sorted.length === 0 ? Number.NaN : sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!);
    let sum = 0;
    for (const v of sorted) sum += v;
    return {
      samples: sorted.length,
      mean: sorted.length === 0 ? Number.NaN : sum / sorted.length,
      p50: at(0.5),
      p90: at(0.9),
      p99: at(0.99),
      p999: at(0.999),
      max: sorted.length === 0 ? Number.NaN : sorted[sorted.length - 1]!,
    };
  }
}

export interface LatencySummary {
  samples: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** Counts responses by status code. */
export class StatusCounter {
  readonly counts = new Map<number, number>();
  add(status: number): void {
    this.counts.set(status, (this.counts.get(status) ?? 0) + 1);
  }
  get ok(): number {
    let n = 0;
    for (const [status, count] of this.counts) if (status >= 200 && status < 300) n += count;
    return n;
  }
  get failed(): number {
    let n = 0;
    for (const [status, count] of this.counts) if (status < 200 || status >= 300) n += count;
    return n;
  }
  toJSON(): Record<string, number> {
    return Object.fromEntries([...this.counts].sort((a, b) => a[0] - b[0]).map(([k, v]) => [String(k), v]));
  }
}

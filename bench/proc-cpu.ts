import { readFileSync } from "node:fs";

/** Linux's USER_HZ: what /proc's CPU times count in. */
export const CLOCK_TICKS_PER_SECOND = 100;

/** utime + stime of a process (or of one of its threads), in clock ticks (Linux); null elsewhere. */
export function cpuTicks(pid: number, threadId?: number): number | null {
  try {
    const stat = readFileSync(threadId === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${threadId}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

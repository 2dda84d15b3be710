import { readFileSync } from "node:fs";

/** Linux's USER_HZ: what /proc's CPU times count in. */
export const CLOCK_TICKS_PER_SECOND = 100;

/** utime + stime of a process (or of one of its threads), in clock ticks (Linux); null elsewhere. */
export function cpuTicks(pid: number, threadId?: number): number | null {
  const split = cpuTicksSplit(pid, threadId);
  return split === null ? null : split.userTicks + split.systemTicks;
}

/** utime and stime apart: user space, and the kernel working for it (system calls, faults). */
export function cpuTicksSplit(pid: number, threadId?: number): { userTicks: number; systemTicks: number } | null {
  try {
    const stat = readFileSync(threadId === undefined ? `/proc/${pid}/stat` : `/proc/${pid}/task/${threadId}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return { userTicks: Number(fields[11]), systemTicks: Number(fields[12]) };
  } catch {
    return null;
  }
}

/**
 * A thread's context switches so far (Linux): voluntary (it slept: waited for I/O or for work)
 * and involuntary (the scheduler took the CPU from it while it had work).
 */
export function contextSwitches(pid: number, threadId: number): { voluntary: number; involuntary: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/task/${threadId}/status`, "utf8");
    const voluntary = /^voluntary_ctxt_switches:\s*(\d+)/m.exec(status);
    const involuntary = /^nonvoluntary_ctxt_switches:\s*(\d+)/m.exec(status);
    if (voluntary === null || involuntary === null) return null;
    return { voluntary: Number(voluntary[1]), involuntary: Number(involuntary[1]) };
  } catch {
    return null;
  }
}

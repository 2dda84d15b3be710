import { readFileSync, writeFileSync } from "node:fs";

/**
 * Names JavaScript functions in a callgrind dump. V8's compiled code has no symbols, so callgrind
 * names it by address (`0x000000000d046340`), and every JavaScript function appears as one or more
 * anonymous blobs. Node started with `--perf-basic-prof` writes `/tmp/perf-PID.map`, one line per
 * compiled function: `START SIZE NAME`, both in hex. This rewrites each address-named function in
 * a dump to the name of the code that covers it (`JS:*deduct file:line`, where `*` is optimised,
 * `^` baseline, `~` interpreted), so `callgrind_annotate` can total instructions by function. The
 * names are exact for code alive at the end of the window; code that V8 freed and replaced at the
 * same address during the window is attributed to the newer function, the map's later entry.
 */

interface CodeRange {
  startAddress: number;
  endAddress: number;
  name: string;
}

/** The map's ranges, sorted by start; at a start written twice, the later line wins. */
export function readPerfMap(mapFile: string): CodeRange[] {
  const byStart = new Map<number, CodeRange>();
  for (const line of readFileSync(mapFile, "utf8").split("\n")) {
    const m = /^([0-9a-f]+) ([0-9a-f]+) (.+)$/.exec(line);
    if (!m) continue;
    const startAddress = Number.parseInt(m[1]!, 16);
    byStart.set(startAddress, { startAddress, endAddress: startAddress + Number.parseInt(m[2]!, 16), name: m[3]! });
  }
  return [...byStart.values()].sort((a, b) => a.startAddress - b.startAddress);
}

/** The range holding `address` (binary search over starts), or undefined. */
export function lookup(ranges: readonly CodeRange[], address: number): CodeRange | undefined {
  let lo = 0;
  let hi = ranges.length - 1;
  let found: CodeRange | undefined;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (ranges[mid]!.startAddress <= address) {
      found = ranges[mid];
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return found !== undefined && address < found.endAddress ? found : undefined;
}

/**
 * Rewrites `fn=(id) 0x…` and `cfn=(id) 0x…` name definitions in one dump; returns how many
 * addresses were named and how many stayed unknown. Callgrind writes each name once, at its id's
 * first use, so only those lines change.
 */
export function symbolizeDump(dumpFile: string, ranges: readonly CodeRange[]): { named: number; unknown: number } {
  let named = 0;
  let unknown = 0;
  const text = readFileSync(dumpFile, "utf8").replace(/^(c?fn=\(\d+\)) 0x([0-9a-f]+)$/gm, (line, head: string, hex: string) => {
    const range = lookup(ranges, Number.parseInt(hex, 16));
    if (range === undefined) {
      unknown++;
      return line;
    }
    named++;
    return `${head} ${range.name}`;
  });
  writeFileSync(dumpFile, text);
  return { named, unknown };
}

export const perfMapPath = (pid: number): string => `/tmp/perf-${pid}.map`;

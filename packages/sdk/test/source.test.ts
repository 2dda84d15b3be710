/** Portability: the SDK's source uses web standards only. */
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { VERSION } from "../src/index.ts";
import { sdkRoot } from "./helpers/paths.ts";

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : [p];
  });
}

describe("source", () => {
  const stripComments = (text: string): string => text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, "");
  const sources = files(join(sdkRoot, "src")).map((p) => ({ p, text: stripComments(readFileSync(p, "utf8")) }));

  it("has no node: imports, Buffer or require", () => {
    for (const { p, text } of sources) {
      expect(text, p).not.toMatch(/from ["']node:/);
      expect(text, p).not.toMatch(/\bBuffer\b/);
      expect(text, p).not.toMatch(/\brequire\(/);
    }
  });

  it("has no `any` in the public surface", () => {
    for (const { p, text } of sources) expect(text, p).not.toMatch(/:\s*any\b|<any>|as any\b/);
    const dist = join(sdkRoot, "dist");
    const dts = stripComments(readdirSync(dist).filter((f) => f.endsWith(".d.ts")).map((f) => readFileSync(join(dist, f), "utf8")).join("\n"));
    expect(dts).not.toMatch(/:\s*any\b|<any>/);
  });

  it("has zero runtime dependencies and VERSION matches package.json", () => {
    const pkg = JSON.parse(readFileSync(join(sdkRoot, "package.json"), "utf8")) as { version: string; dependencies?: object };
    expect(pkg.dependencies ?? {}).toEqual({});
    expect(VERSION).toBe(pkg.version);
  });
});

describe("docs", () => {
  it("every public method has a doc comment with an example", () => {
    const dirs = [join(sdkRoot, "src", "resources")];
    const extra = ["tally.ts", "user-client.ts", "guard.ts", "core/pagination.ts", "core/hmac.ts", "core/errors.ts"].map((f) => join(sdkRoot, "src", f));
    const targets = [...dirs.flatMap((d) => files(d)), ...extra];
    const missing: string[] = [];
    for (const file of targets) {
      const lines = readFileSync(file, "utf8").split("\n");
      lines.forEach((line, i) => {
        const m = /^\s*(?:async\s+|static\s+|get\s+)?([a-zA-Z]\w*)(?:<[^>]*>)?\((?!\)\s*=>)/.exec(line);
        const fn = /^export (?:async )?function (\w+)/.exec(line);
        const name = m?.[1] ?? fn?.[1];
        if (name === undefined || ["constructor", "if", "for", "while", "switch", "return", "catch", "function", "super", "then", "catch", "finally"].includes(name)) return;
        if (/^\s*(private|protected|#)/.test(line) || line.includes("@internal")) return;
        if (/;\s*(\/\/.*)?$/.test(line) && !fn) return; // a call statement, not a declaration
        if (!/^(\s*(async |static |get )?[a-zA-Z]\w*(<[^>]*>)?\(|export (async )?function)/.test(line)) return;
        if (/^\s{4,}/.test(line) && !/^\s{2}[a-zA-Z]/.test(line) && !fn) return; // nested code, not a member
        // Walk up to the doc comment above (skipping overload signatures).
        let j = i - 1;
        while (j >= 0 && /^\s*(async\s+)?[a-zA-Z]\w*\(.*\):.*;$/.test(lines[j]!)) j--;
        if (!/\*\/\s*$/.test(lines[j] ?? "")) {
          missing.push(`${file}:${i + 1} ${name}`);
          return;
        }
        let k = j;
        while (k >= 0 && !/\/\*\*/.test(lines[k]!)) k--;
        const doc = lines.slice(k, j + 1).join("\n");
        if (doc.includes("@internal")) return;
        if (!doc.includes("@example")) missing.push(`${file}:${i + 1} ${name}`);
      });
    }
    expect(missing).toEqual([]);
  });
});

/** Paths and binaries the tests use. */
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const sdkRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const repoRoot = join(sdkRoot, "..", "..");
export const examplesDir = join(repoRoot, "examples");
export const serverTestingModule = join(repoRoot, "packages", "server", "src", "testing.ts");

const require = createRequire(join(sdkRoot, "package.json"));

/** Absolute path of a package's bin script, e.g. binPath("tsup", "tsup"). */
export function binPath(pkg: string, bin: string): string {
  const manifestPath = (require.resolve.paths(pkg) ?? []).map((dir) => join(dir, pkg, "package.json")).find((p) => existsSync(p));
  if (manifestPath === undefined) throw new Error(`${pkg} is not installed`);
  const manifest = require(manifestPath) as { bin?: string | Record<string, string> };
  const rel = typeof manifest.bin === "string" ? manifest.bin : manifest.bin?.[bin];
  if (rel === undefined) throw new Error(`${pkg} has no bin ${bin}`);
  return join(dirname(manifestPath), rel);
}

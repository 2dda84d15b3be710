// Bundles the server's TypeScript sources into one ES module, dist/tally.mjs, with esbuild (a
// few tens of milliseconds). Dependencies stay external: they load from node_modules as usual.
import { readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const PACKAGE_DIR = join(dirname(fileURLToPath(import.meta.url)), "..");
export const BUNDLE = join(PACKAGE_DIR, "dist", "tally.mjs");
const SOURCES = join(PACKAGE_DIR, "src");

function newestSourceMs(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSourceMs(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** True when the bundle is missing or older than some source file. */
export function bundleIsStale() {
  try {
    return statSync(BUNDLE).mtimeMs < newestSourceMs(SOURCES);
  } catch {
    return true;
  }
}

export async function bundle() {
  const esbuild = await import("esbuild");
  await esbuild.build({
    entryPoints: [join(SOURCES, "cli", "main.ts")],
    outfile: BUNDLE,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    sourcemap: true,
    logLevel: "warning",
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await bundle();

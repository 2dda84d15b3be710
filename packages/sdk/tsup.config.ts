import { defineConfig } from "tsup";

/**
 * Three entry points, each as ESM (`.js`) and CommonJS (`.cjs`) with declarations
 * (`.d.ts` / `.d.cts`), matching the `exports` map in package.json. Shared code (errors,
 * the HTTP core) lands in chunks so `@tally/sdk` and `@tally/sdk/server` share one set of
 * classes and `@tally/sdk/client` never pulls in server-only code.
 */
export default defineConfig({
  entry: { index: "src/index.ts", server: "src/server.ts", client: "src/client.ts" },
  format: ["esm", "cjs"],
  dts: true,
  splitting: true,
  sourcemap: true,
  clean: true,
  treeshake: true,
  target: "es2022",
  platform: "neutral",
  outDir: "dist",
  tsconfig: "tsconfig.build.json",
});

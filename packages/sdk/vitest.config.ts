import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "sdk",
    root: import.meta.dirname,
    include: ["test/**/*.test.ts"],
    globalSetup: ["test/helpers/global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: "forks",
  },
});

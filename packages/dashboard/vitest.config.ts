import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    name: "dashboard",
    root: import.meta.dirname,
    include: ["test/**/*.test.ts"],
    testTimeout: 90_000,
    hookTimeout: 90_000,
    pool: "forks",
  },
});

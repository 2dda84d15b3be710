import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// Served by the Tally server at /dashboard (packages/server/src/http/dashboard.ts), so every
// asset URL is absolute under that prefix and nothing is fetched from elsewhere (offline use).
export default defineConfig({
  root: import.meta.dirname,
  base: "/dashboard/",
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 700,
  },
  server: {
    // `npx vite --config packages/dashboard/vite.config.ts` during development: the API is the
    // Tally server on its default port.
    proxy: { "/v1": "http://127.0.0.1:8787", "/openapi.json": "http://127.0.0.1:8787" },
  },
});

import { defineConfig } from "vitest/config";
import { fileURLToPath } from "node:url";

// The built UI is shipped inside the Python package and served by `traceway serve`.
const outDir = fileURLToPath(new URL("../src/traceway/ui/static", import.meta.url));

export default defineConfig({
  base: "/",
  build: { outDir, emptyOutDir: true, chunkSizeWarningLimit: 1200 },
  server: {
    // `npm run dev` proxies the API to a running `traceway serve` (default UI port).
    proxy: { "/api": process.env.TRACEWAY_API ?? "http://127.0.0.1:16686" },
  },
  test: { include: ["test/**/*.test.ts"], environment: "node" },
});

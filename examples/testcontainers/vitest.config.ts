import { defineConfig } from "vitest/config";

// Starting containers takes longer than vitest's default 5 s (the first run also pulls the images).
export default defineConfig({
  test: { include: ["test/**/*.test.ts"], testTimeout: 180_000, hookTimeout: 180_000 },
});

import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    coverage: {
      provider: "v8",
      include: ["packages/*/src/**/*.ts"],
      exclude: ["**/*.test.ts", "**/testing/**", "**/*-test-*.ts", "**/bin.ts", "**/index.ts"],
      reporter: ["text-summary", "json-summary"],
      // The token provider is the heart of the project: its unit tests must keep covering it.
      thresholds: {
        "packages/core/src/**": { statements: 93, branches: 88, functions: 90, lines: 95 },
      },
    },
    projects: [
      {
        test: {
          name: "unit",
          include: ["packages/*/src/**/*.test.ts"],
          environment: "node",
        },
      },
      {
        test: {
          name: "integration",
          include: ["integration/test/**/*.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
    ],
  },
});

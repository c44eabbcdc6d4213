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
          // examples/testcontainers: the user-facing example, run against containers (CI builds local images).
          include: ["integration/test/**/*.test.ts", "examples/testcontainers/test/**/*.test.ts"],
          exclude: ["integration/test/**/*.hostile.test.ts", "integration/test/**/*.packed.test.ts"],
          // Local container images for the testcontainers pass, where scripts/ensure-docker.sh built them.
          globalSetup: ["integration/src/containers-global-setup.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 60_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          // Impersonating servers for every adapter x engine x TLS setting: no token may reach them.
          // The global setup makes the workers trust a CA through NODE_EXTRA_CA_CERTS, as apps do.
          name: "hostile",
          include: ["integration/test/**/*.hostile.test.ts"],
          globalSetup: ["integration/src/hostile/hostile-global-setup.ts"],
          environment: "node",
          testTimeout: 300_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          // Packages as users receive them: packed tarballs installed with npm into clean projects.
          name: "packed",
          include: ["integration/test/**/*.packed.test.ts"],
          globalSetup: ["integration/src/packed/packed-global-setup.ts"],
          environment: "node",
          testTimeout: 300_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});

import type { NextConfig } from "next";

const nextConfig: NextConfig = {
  // Loaded by Node.js at run time instead of bundled (pg already is, by Next.js's own list): one copy
  // shared by instrumentation.ts and the routes, and a build about a third faster.
  serverExternalPackages: ["@azure/identity"],
};

export default nextConfig;

/**
 * Runs once when the Next.js server starts, before it handles a request (`next start`, `next dev`,
 * the standalone server.js). The database lives in the Node.js runtime only, not in the Edge runtime.
 */
export async function register(): Promise<void> {
  if (process.env.NEXT_RUNTIME === "nodejs") {
    const { database, warmUpDatabase } = await import("./lib/db");
    await warmUpDatabase();
    // Next.js closes its HTTP server on SIGTERM and SIGINT, then exits: close the pool's connections too.
    const close = () => void database().pool.end();
    process.once("SIGTERM", close);
    process.once("SIGINT", close);
  }
}

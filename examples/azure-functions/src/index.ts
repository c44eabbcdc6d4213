/**
 * App-level hooks: the worker runs `appStart` after loading the files `main` names and before the
 * first invocation, and `appTerminate` when the host shuts the worker down (scale-in, deployment).
 */
import { app } from "@azure/functions";
import { warmUp } from "@org/knex-entra";
import { db } from "./db.js";

// Cold start: fetch the token and open one pooled connection, so the first request waits for neither.
app.hook.appStart(async () => {
  try {
    await warmUp({ timeoutInMs: 30_000 });
    await db.raw("select 1");
  } catch (error) {
    console.error(`warm-up failed, serving anyway (see /api/health): ${(error as Error).message}`);
  }
});

app.hook.appTerminate(async () => {
  await db.destroy();
});

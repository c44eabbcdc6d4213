import { app, type HttpResponseInit } from "@azure/functions";
import { db } from "../db.js";

/** GET /api/whoami: the database role this app signs in as (the managed identity's name on Azure). */
app.http("whoami", {
  methods: ["GET"],
  authLevel: "anonymous",
  handler: async (): Promise<HttpResponseInit> => {
    const { rows } = await db.raw<{ rows: Array<{ user: string }> }>("select current_user as user");
    return { jsonBody: rows[0] };
  },
});

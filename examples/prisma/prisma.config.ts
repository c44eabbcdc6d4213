import { entraDatabaseUrl } from "@org/prisma-entra";
import { defineConfig } from "prisma/config";

// Prisma's CLI (migrate deploy, db pull) reads only `datasource.url`. This async default export is
// awaited by the CLI: it signs in with the app's identity (DefaultAzureCredential) and puts a
// current Entra access token in the URL, with TLS required and verified. `prisma generate` needs
// no database, so it runs at build time without Azure credentials.
const needsDatabase = process.argv.some((arg) => ["migrate", "db", "studio"].includes(arg));

export default async () =>
  defineConfig({
    schema: "prisma/schema.prisma",
    migrations: { path: "prisma/migrations" },
    ...(needsDatabase ? { datasource: { url: await entraDatabaseUrl({ provider: "postgresql" }) } } : {}),
  });

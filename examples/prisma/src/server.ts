/**
 * A minimal HTTP app on Prisma 7 + Azure Database for PostgreSQL, passwordless.
 *
 * The one-line change from a password:
 *   before: new PrismaClient({ adapter: new PrismaPg({ connectionString: process.env.DATABASE_URL }) })
 *   after:  new PrismaClient({ adapter: createEntraAdapter({ provider: "postgresql" }) })
 */
import { createServer } from "node:http";
import { createEntraAdapter } from "@org/prisma-entra";
import { PrismaClient } from "./generated/prisma/client.js";

const prisma = new PrismaClient({ adapter: createEntraAdapter({ provider: "postgresql" }) });

const server = createServer(async (request, response) => {
  try {
    if (request.url === "/whoami") {
      const rows = await prisma.$queryRaw<{ user: string }[]>`select current_user as "user"`;
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(rows[0]));
    } else if (request.url === "/notes") {
      const notes = await prisma.note.findMany({ orderBy: { id: "asc" } });
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(notes));
    } else {
      response.writeHead(404).end();
    }
  } catch (error) {
    response.writeHead(500, { "content-type": "text/plain" }).end((error as Error).message);
  }
});

server.listen(Number(process.env.PORT ?? 3000), "127.0.0.1", () => {
  const address = server.address();
  console.log(`listening on http://127.0.0.1:${typeof address === "object" && address ? address.port : ""}`);
});

async function shutdown(): Promise<void> {
  server.close();
  await prisma.$disconnect();
}

process.once("SIGTERM", () => void shutdown());
process.once("SIGINT", () => void shutdown());

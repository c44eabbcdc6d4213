import { createEntraAdapter } from "@org/prisma-entra";
import { PrismaClient } from "./generated/prisma/client.js";

// Host, database and user come from the Service Connector variables (AZURE_POSTGRESQL_*); every
// new connection signs in with a current Entra access token.
const prisma = new PrismaClient({ adapter: createEntraAdapter({ provider: "postgresql" }) });

try {
  const note = await prisma.note.create({ data: { title: "Signed in with Microsoft Entra ID" } });
  const found = await prisma.note.findUnique({ where: { id: note.id } });
  const rows = await prisma.$queryRaw<{ user: string }[]>`select current_user as "user"`;
  console.log(`note ${found?.id}: ${found?.title} (as ${rows[0]?.user})`);
} finally {
  await prisma.$disconnect();
}

import { PrismaPg } from "@prisma/adapter-pg";
import { PrismaClient } from "./generated/prisma/client.js";

// For code that can only take a URL: DATABASE_URL points at `entra-db proxy` and holds no password,
// e.g. postgresql://app@127.0.0.1:6432/app?sslmode=disable. The proxy signs every new connection
// in to Azure with a current Entra access token over verified TLS.
const prisma = new PrismaClient({ adapter: new PrismaPg({ connectionString: process.env.DATABASE_URL }) });

try {
  const notes = await prisma.note.count();
  const rows = await prisma.$queryRaw<{ user: string }[]>`select current_user as "user"`;
  console.log(`${notes} note(s) through entra-db proxy (as ${rows[0]?.user})`);
} finally {
  await prisma.$disconnect();
}

/**
 * NestJS + TypeORM on Azure Database for PostgreSQL, passwordless.
 *
 * The one-line change from a password (src/app.module.ts):
 *   before: TypeOrmModule.forRoot({ type: "postgres", host, username, password: process.env.PGPASSWORD, ssl: true, ... })
 *   after:  TypeOrmModule.forRoot(withEntra({ type: "postgres", ssl: true, ... }))
 */
import "reflect-metadata";
import { NestFactory } from "@nestjs/core";
import { AppModule } from "./app.module";

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ["error", "warn"] });
  app.enableShutdownHooks();
  await app.listen(Number(process.env.PORT ?? 3000), "127.0.0.1");
  console.log(`listening on ${await app.getUrl()}`);
}

void bootstrap();

/**
 * NestJS + TypeORM on Azure Database for PostgreSQL, passwordless.
 *
 * The one-line change from a password (src/app.module.ts):
 *   before: TypeOrmModule.forRoot({ type: "postgres", host, username, password: process.env.PGPASSWORD, ssl: true, ... })
 *   after:  TypeOrmModule.forRoot(withEntra({ type: "postgres", ssl: true, ... }))
 */
import "reflect-metadata";
import { NestFactory } from "@nestjs/core";
import { warmUp } from "@org/typeorm-entra";
import { AppModule } from "./app.module";

async function bootstrap(): Promise<void> {
  const app = await NestFactory.create(AppModule, { logger: ["error", "warn"] });
  app.enableShutdownHooks();
  // withEntra started fetching the token when the module was built; the first request must not wait.
  await warmUp({ timeoutInMs: 30_000 }).catch((error: Error) => {
    console.error(`warm-up failed, serving anyway (see /health): ${error.message}`);
  });
  await app.listen(Number(process.env.PORT ?? 3000), "127.0.0.1");
  console.log(`listening on ${await app.getUrl()}`);
}

void bootstrap();

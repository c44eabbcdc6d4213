import { Module } from "@nestjs/common";
import { TypeOrmModule } from "@nestjs/typeorm";
import { withEntra } from "@org/typeorm-entra";
import { AppController } from "./app.controller";

@Module({
  imports: [
    // Host, port, database and username come from the Service Connector variables (AZURE_POSTGRESQL_*);
    // every new pooled connection gets a fresh Entra token over verified TLS.
    TypeOrmModule.forRoot(withEntra({ type: "postgres", ssl: true, entities: [], synchronize: false })),
  ],
  controllers: [AppController],
})
export class AppModule {}

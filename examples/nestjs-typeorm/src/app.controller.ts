import { Controller, Get } from "@nestjs/common";
// A value import: Nest reads the constructor parameter type at run time (emitDecoratorMetadata).
import { DataSource } from "typeorm";

@Controller()
export class AppController {
  constructor(private readonly dataSource: DataSource) {}

  @Get("health")
  health(): { ok: boolean } {
    return { ok: true };
  }

  @Get("whoami")
  async whoami(): Promise<{ user: string }> {
    const [row] = await this.dataSource.query("select current_user as user");
    return row;
  }
}

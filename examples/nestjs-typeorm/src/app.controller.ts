import { Controller, Get, ServiceUnavailableException } from "@nestjs/common";
import { type EntraHealthReport, healthCheck } from "@org/typeorm-entra";
// A value import: Nest reads the constructor parameter type at run time (emitDecoratorMetadata).
import { DataSource } from "typeorm";

@Controller()
export class AppController {
  constructor(private readonly dataSource: DataSource) {}

  /** Readiness: 503 while no token can be had; "degraded" (refreshes failing) still serves. */
  @Get("health")
  health(): EntraHealthReport {
    const report = healthCheck();
    // The same body with status 503 while no token can be had.
    if (report.status === "unhealthy") throw new ServiceUnavailableException(report);
    return report;
  }

  @Get("whoami")
  async whoami(): Promise<{ user: string }> {
    const [row] = await this.dataSource.query("select current_user as user");
    return row;
  }
}

/**
 * Integration tests of passwordless code against databases your own testcontainers started:
 * {@link startEmulatorFor} puts the emulator's identity endpoint and token-validating gateways in
 * front of them, and `await using` (or `close()`) stops the emulator and the containers.
 *
 * @example
 * ```ts
 * import { startEmulatorFor } from "@org/entra-emulator/testcontainers";
 * await using entra = await startEmulatorFor({ postgres: new PostgreSqlContainer("postgres:17-alpine").start() });
 * Object.assign(process.env, entra.env); // then your withEntra() pools, unchanged
 * ```
 *
 * @packageDocumentation
 */
export {
  type ContainerEngine,
  type DatabaseSource,
  EmulatorContainerError,
  type EmulatorContainerErrorCode,
  type StartedDatabaseContainer,
} from "./container-backend.js";
export {
  type EmulatorForContainers,
  type EmulatorForOptions,
  type MysqlContainerOptions,
  type PostgresContainerOptions,
  startEmulatorFor,
} from "./start-emulator-for.js";

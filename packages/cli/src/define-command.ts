import type { CliIo } from "./cli-io.js";
import {
  type CommandFlags,
  type CommandOptions,
  parseCommandArgs,
  TARGET_OPTIONS,
} from "./command-options.js";

/** A command of `entra-db`: takes the arguments after its name and returns the exit code. */
export type Command = (args: readonly string[], io: CliIo) => Promise<number>;

/** What {@link defineCommand} makes a command from. */
export interface CommandDefinition<T extends CommandOptions> {
  /** The name in `entra-db <name>`, used in the `--help` pointer of a parse error. */
  readonly name: string;
  /** Printed for `--help`. */
  readonly usage: string;
  /** The command's own flags; the {@link TARGET_OPTIONS} are added to them. */
  readonly options: T;
  /** The command itself, given the parsed flags; returns the exit code. */
  readonly run: (flags: CommandFlags<typeof TARGET_OPTIONS & T>, io: CliIo) => Promise<number>;
}

/**
 * A command that parses its arguments strictly (the {@link TARGET_OPTIONS} and its own options, see
 * {@link parseCommandArgs}), prints its usage and returns 0 for `-h` / `--help`, and otherwise runs.
 *
 * @example
 * ```ts
 * const helloCommand = defineCommand({
 *   name: "hello",
 *   usage: "Usage: entra-db hello [--loud]",
 *   options: { loud: { type: "boolean" } },
 *   run: async (flags, io) => {
 *     io.stdout.write(flags.loud ? "HELLO\n" : "hello\n");
 *     return 0;
 *   },
 * });
 * ```
 */
export function defineCommand<const T extends CommandOptions>(definition: CommandDefinition<T>): Command {
  return async (args, io) => {
    const flags = parseCommandArgs(definition.name, args, { ...TARGET_OPTIONS, ...definition.options });
    if (flags.help) {
      io.stdout.write(`${definition.usage}\n`);
      return 0;
    }
    return definition.run(flags, io);
  };
}

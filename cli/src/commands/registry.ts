import type { Command } from "commander";
import type { CliContext } from "../context.js";

/**
 * A group of related `eas` commands in its own module. `register` adds the group's commands to the
 * program; it runs on every start, so it must stay cheap: import heavy modules inside the actions.
 */
export interface CommandGroup {
  /** For help and errors only, e.g. "services". */
  readonly name: string;
  register(program: Command, context: CliContext): void;
}

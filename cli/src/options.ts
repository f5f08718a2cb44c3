import { readFileSync } from "node:fs";
import { InvalidArgumentError, type Command } from "commander";
import { CliError } from "./client.js";

/** Argument parser: a non-negative integer. */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("must be a non-negative integer");
  return n;
}

/** Argument parser: a line count from 1 to 1000 (what an agent keeps per instance). */
export function lineCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1000) throw new InvalidArgumentError("must be an integer from 1 to 1000");
  return n;
}

/** Reads a file a command names, as text; a failure is a CliError naming the file. */
export function readUserFile(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as Error).message}`);
  }
}

export interface WaitOptions {
  wait: boolean;
  timeout: number;
}

/** Adds `--no-wait` and `--timeout` to a command that changes a service. */
export function withWaitOptions(command: Command): Command {
  return command
    .option("--no-wait", "return at once instead of waiting until Running")
    .option("--timeout <seconds>", "how long to wait", positiveInt, 300);
}

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

/** Argument parser: a duration such as `30s`, `1500ms`, `2m` or `45` (seconds), in ms; more than 0. */
export function duration(value: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  const unit = match?.[2] ?? "s";
  const ms = match ? Number(match[1]) * (unit === "ms" ? 1 : unit === "s" ? 1_000 : 60_000) : Number.NaN;
  if (!Number.isFinite(ms) || ms <= 0 || !Number.isInteger(Math.round(ms))) {
    throw new InvalidArgumentError("must be a duration > 0 such as 30s, 1500ms or 2m");
  }
  return Math.round(ms);
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

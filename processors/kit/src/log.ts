/** Severity of a log line. */
export type LogLevel = "debug" | "info" | "warn" | "error";

/** Writes one structured log line. */
export type Logger = (level: LogLevel, msg: string, fields?: Readonly<Record<string, unknown>>) => void;

/**
 * A logger writing one JSON object per line, the format the agent collects from stdout.
 * `now` and `write` are injectable so that tests can read what is logged.
 */
export function jsonLogger(
  base: Readonly<Record<string, unknown>>,
  write: (line: string) => void = (line) => process.stdout.write(line),
  now: () => Date = () => new Date(),
): Logger {
  return (level, msg, fields) => {
    write(`${JSON.stringify({ time: now().toISOString(), level, ...base, msg, ...fields })}\n`);
  };
}

/** A logger that drops everything (the default for in-process servers). */
export const silentLogger: Logger = () => undefined;

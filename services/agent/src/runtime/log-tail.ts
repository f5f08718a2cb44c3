import type { LogLine } from "./types.js";

// A line longer than this is cut into pieces so one runaway line cannot hold all memory.
const MAX_LINE = 16 * 1024;

/** The last `capacity` lines of an instance's stdout and stderr, split on newlines. */
export class LogTail {
  readonly #capacity: number;
  readonly #lines: LogLine[] = [];
  readonly #partial: Record<LogLine["stream"], string> = { stdout: "", stderr: "" };

  constructor(capacity: number) {
    this.#capacity = Math.max(1, capacity);
  }

  /** Adds a chunk of output; complete lines are kept, the rest waits for its newline. */
  push(stream: LogLine["stream"], chunk: string, at: number): void {
    let text = this.#partial[stream] + chunk;
    for (;;) {
      const newline = text.indexOf("\n");
      if (newline === -1) break;
      this.#add({ stream, text: text.slice(0, newline).replace(/\r$/, ""), at });
      text = text.slice(newline + 1);
    }
    while (text.length > MAX_LINE) {
      this.#add({ stream, text: text.slice(0, MAX_LINE), at });
      text = text.slice(MAX_LINE);
    }
    this.#partial[stream] = text;
  }

  /** Emits unterminated output as lines (the process ended). */
  flush(at: number): void {
    for (const stream of ["stdout", "stderr"] as const) {
      if (this.#partial[stream]) this.#add({ stream, text: this.#partial[stream], at });
      this.#partial[stream] = "";
    }
  }

  /** The last `count` lines, oldest first. */
  lines(count = this.#capacity): LogLine[] {
    return count <= 0 ? [] : this.#lines.slice(-count);
  }

  #add(line: LogLine): void {
    this.#lines.push(line);
    if (this.#lines.length > this.#capacity) this.#lines.splice(0, this.#lines.length - this.#capacity);
  }
}

/**
 * A structured (JSON) log line as its message and error, the way pino, bunyan or Python's JSON loggers
 * write them; any other line as it is.
 */
export function readableLogLine(text: string): string {
  if (!text.startsWith("{")) return text;
  try {
    const record = JSON.parse(text) as Record<string, unknown>;
    const err = record.err as { message?: unknown } | undefined;
    const parts = [record.msg ?? record.message, record.error ?? err?.message].filter(
      (part): part is string => typeof part === "string" && part !== "",
    );
    return parts.length > 0 ? parts.join(": ") : text;
  } catch {
    return text;
  }
}

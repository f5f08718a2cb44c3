/**
 * A batch job's lines: reading an input line, the output line of each outcome, the order outputs are committed
 * in, and the job's counts. Pure (ADR 0031).
 */

/** One line of the JSON Lines input: a request body to queue, or why it cannot be one. */
export type InputLine = { readonly kind: "request"; readonly body: string } | { readonly kind: "invalid"; readonly error: string };

/** Checks one input line (its newline removed): it must be a JSON value, sent to the instance as the request body. */
export function readInputLine(text: string): InputLine {
  const line = text.endsWith("\r") ? text.slice(0, -1) : text;
  if (line.trim() === "") return { kind: "invalid", error: "empty line" };
  try {
    JSON.parse(line);
  } catch (error) {
    return { kind: "invalid", error: `not valid JSON: ${(error as Error).message}` };
  }
  return { kind: "request", body: line };
}

/** How a line ended. */
export type LineOutcome =
  /** An instance answered (any status it was not retried on). */
  | { readonly kind: "answered"; readonly code: number; readonly body: Uint8Array }
  /** Dead-lettered: every attempt failed. */
  | { readonly kind: "failed"; readonly error: string; readonly attempts: number }
  /** The input line was not a request. */
  | { readonly kind: "invalid"; readonly error: string };

/** Each line's status in the output: answered 2xx, answered otherwise, dead-lettered, not valid input. */
export type LineStatus = "ok" | "error" | "failed" | "invalid";

export function lineStatus(outcome: LineOutcome): LineStatus {
  if (outcome.kind === "answered") return outcome.code >= 200 && outcome.code < 300 ? "ok" : "error";
  return outcome.kind;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The output line of input line `line` (1-based), without its newline:
 * `{"line":1,"status":"ok","code":200,"output":<the body as JSON, or as a string when it is not JSON>}`,
 * `{"line":2,"status":"failed","error":"...","attempts":3}`, `{"line":3,"status":"invalid","error":"..."}`.
 */
export function outputLine(line: number, outcome: LineOutcome): string {
  const status = lineStatus(outcome);
  if (outcome.kind === "answered") {
    return JSON.stringify({ line, status, code: outcome.code, output: bodyValue(outcome.body) });
  }
  if (outcome.kind === "failed") return JSON.stringify({ line, status, error: outcome.error, attempts: outcome.attempts });
  return JSON.stringify({ line, status, error: outcome.error });
}

function bodyValue(body: Uint8Array): unknown {
  let text: string;
  try {
    text = utf8.decode(body);
  } catch {
    return { base64: Buffer.from(body).toString("base64") };
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * The lines to commit next: the run of consecutive lines from `next` that have their output, at most `maxLines`
 * lines and about `maxBytes` bytes (one line always fits). Outputs are committed in input order only.
 */
export function nextRun(next: number, ready: ReadonlyMap<number, string>, maxLines: number, maxBytes: number): string[] {
  const run: string[] = [];
  let bytes = 0;
  for (let line = next; run.length < maxLines; line++) {
    const text = ready.get(line);
    if (text === undefined) break;
    if (run.length > 0 && bytes + text.length + 1 > maxBytes) break;
    run.push(text);
    bytes += text.length + 1;
  }
  return run;
}

/** A job's lines by status. */
export interface BatchCounts {
  ok: number;
  error: number;
  failed: number;
  invalid: number;
}

export const noCounts = (): BatchCounts => ({ ok: 0, error: 0, failed: 0, invalid: 0 });

export function addCount(counts: BatchCounts, status: LineStatus): BatchCounts {
  return { ...counts, [status]: counts[status] + 1 };
}

export function totalCounted(counts: BatchCounts): number {
  return counts.ok + counts.error + counts.failed + counts.invalid;
}

/** Lines per second over a sliding window, from (time, lines done) samples. */
export function linesPerSecond(samples: readonly { readonly at: number; readonly done: number }[], windowMs: number, now: number): number {
  const recent = samples.filter((sample) => sample.at >= now - windowMs);
  const first = recent[0];
  const last = recent[recent.length - 1];
  if (!first || !last || last.at <= first.at) return 0;
  return ((last.done - first.done) * 1000) / (last.at - first.at);
}

import type { BatchJob, DeadLetter, QueueStatus } from "@eas/proto";

/** `1,234`. */
export function thousands(value: number): string {
  return Math.round(value).toLocaleString("en-US");
}

/** `850 ms`, `12 s`, `4 min 10 s`, `2 h 5 min`. */
export function duration(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const seconds = Math.round(ms / 1_000);
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min${seconds % 60 ? ` ${seconds % 60} s` : ""}`;
  const hours = Math.floor(minutes / 60);
  return `${hours} h${minutes % 60 ? ` ${minutes % 60} min` : ""}`;
}

/** Seconds left at the recent pace; undefined when it cannot be told (no pace yet, or done). */
export function etaMs(job: Pick<BatchJob, "totalLines" | "doneLines" | "linesPerSecond">): number | undefined {
  const left = job.totalLines - job.doneLines;
  if (left <= 0 || job.linesPerSecond <= 0) return undefined;
  return (left / job.linesPerSecond) * 1_000;
}

/** `[##########..........]  50%`. */
export function progressBar(done: number, total: number, width = 30): string {
  const ratio = total <= 0 ? 1 : Math.min(1, done / total);
  const filled = Math.round(ratio * width);
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(Math.floor(ratio * 100)).padStart(3)}%`;
}

/** A batch job in a few lines: state, progress bar with ETA, counts by status. */
export function renderBatchJob(job: BatchJob): string {
  const lines = [`${job.jobId}  ${job.state}${job.reason && job.reason !== "cancelled" ? ` (${job.reason})` : ""}  service ${job.service}`];
  lines.push(`  ${job.input} -> ${job.output}`);
  const eta = job.state === "Running" ? etaMs(job) : undefined;
  const pace = job.state === "Running" && job.linesPerSecond > 0 ? `  ${thousands(job.linesPerSecond)} lines/s` : "";
  lines.push(
    `  ${progressBar(job.doneLines, job.totalLines)} ${thousands(job.doneLines)}/${thousands(job.totalLines)} lines${pace}${eta === undefined ? "" : `  ETA ${duration(eta)}`}`,
  );
  lines.push(
    `  ok ${thousands(job.okLines)}  error ${thousands(job.errorLines)}  failed ${thousands(job.failedLines)}  invalid ${thousands(job.invalidLines)}`,
  );
  return lines.join("\n");
}

/** `eas queue`: the queue's figures as label/value rows. */
export function queueRows(status: QueueStatus): [string, string][] {
  return [
    [
      "Length",
      `${thousands(status.length)} of ${thousands(status.maxLength)}${status.priorityLength > 0 ? ` (${thousands(status.priorityLength)} priority)` : ""}`,
    ],
    ["Oldest", status.length > 0 ? duration(status.oldestAgeMs) : "-"],
    ["In flight", `${status.inFlight} of ${status.slots} slots on ${status.readyInstances} ready instance(s)`],
    ["Done", thousands(status.done)],
    ["Failed", thousands(status.failed)],
    ["Dead letters", thousands(status.deadLetters)],
  ];
}

export function deadLetterRows(letters: readonly DeadLetter[]): string[][] {
  return letters.map((letter) => [
    letter.requestId,
    String(letter.attempts),
    letter.reason,
    letter.deadLetteredAt,
    `${letter.method} ${letter.path}`,
  ]);
}

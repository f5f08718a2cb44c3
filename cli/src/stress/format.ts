import type { StressPoint, StressStep, StressSummary, StressTaskInfo } from "@eas/proto";

const ms = (value: number | undefined) => (value === undefined ? "-" : value >= 100 ? value.toFixed(0) : value.toFixed(1));
const rate = (value: number) => (value >= 100 ? value.toFixed(0) : value.toFixed(1));
const time = (epochMs: number) => new Date(epochMs).toISOString().slice(11, 19);

const COLUMNS: Array<[label: string, width: number]> = [
  ["time", 8],
  ["target", 8],
  ["sent/s", 8],
  ["achieved/s", 11],
  ["p50 ms", 7],
  ["p99 ms", 7],
  ["max ms", 7],
  ["errors/s", 9],
  ["in-flight", 10],
  ["step", 5],
];

/** The columns of the live view, one line a second. */
export const LIVE_HEADER = COLUMNS.map(([label, width], i) => (i === 0 ? label.padEnd(width) : label.padStart(width))).join(" ");

/** One second of a task as a line of the live view. */
export function liveLine(point: StressPoint): string {
  const target = point.targetConcurrency > 0 ? `c=${point.targetConcurrency}` : rate(point.targetQps);
  const cells = [
    time(point.timeMs),
    target,
    String(point.sent),
    String(point.completed - point.timeouts),
    ms(point.p50Ms),
    ms(point.p99Ms),
    ms(point.maxMs),
    String(point.errors),
    String(point.inFlight + point.backlog),
    String(point.step || "-"),
  ];
  return cells.map((cell, i) => (i === 0 ? cell.padEnd(COLUMNS[i]![1]) : cell.padStart(COLUMNS[i]![1]))).join(" ");
}

export function modeLabel(info: StressTaskInfo): string {
  const mode = info.spec?.mode ?? "";
  return mode === "concurrency" ? "concurrency (CLOSED LOOP)" : `${mode} (open loop)`;
}

/** The summary as label/value rows. */
export function summaryRows(summary: StressSummary | undefined): Array<[string, string]> {
  if (!summary) return [];
  const rows: Array<[string, string]> = [
    ["Requests", `${summary.completed} ended of ${summary.sent} sent (${summary.planned} planned)`],
    ["Offered / achieved", `${rate(summary.offeredQps)} / ${rate(summary.achievedQps)} req/s`],
    ["Errors", `${summary.errors} (timeouts ${summary.timeouts}, connection ${summary.connectionErrors})`],
    [
      "Latency p50 p90 p99 p99.9 max",
      `${ms(summary.p50Ms)} ${ms(summary.p90Ms)} ${ms(summary.p99Ms)} ${ms(summary.p999Ms)} ${ms(summary.maxMs)} ms`,
    ],
    [
      "Codes",
      Object.entries(summary.responsesByCode)
        .map(([code, count]) => `${code}: ${count}`)
        .join(", ") || "-",
    ],
  ];
  if (summary.kneeQps !== undefined) rows.push(["Knee", `${rate(summary.kneeQps)} req/s`]);
  if (summary.limitQps !== undefined) rows.push(["Limit", `${rate(summary.limitQps)} req/s (${summary.limitReason})`]);
  return rows;
}

export function stepRow(step: StressStep): string[] {
  return [
    String(step.index),
    step.concurrency > 0 ? `c=${step.concurrency}` : rate(step.offeredQps),
    rate(step.achievedQps),
    ms(step.p50Ms),
    ms(step.p99Ms),
    `${(step.errorRatio * 100).toFixed(2)}%`,
    step.verdict,
  ];
}

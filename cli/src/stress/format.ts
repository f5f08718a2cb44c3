import type { StressPoint, StressStep, StressSummary, StressTaskInfo } from "@eas/proto";

const ms = (value: number | undefined) => (value === undefined ? "-" : value >= 100 ? value.toFixed(0) : value.toFixed(1));
const rate = (value: number) => (value >= 100 ? value.toFixed(0) : value.toFixed(1));
const time = (epochMs: number) => new Date(epochMs).toISOString().slice(11, 19);

/** The columns of the live view, one line a second. */
export const LIVE_HEADER = "time      target   sent/s  achieved/s  p50 ms  p99 ms  max ms  errors/s  in-flight  step";

/** One second of a task as a line of the live view. */
export function liveLine(point: StressPoint): string {
  const target = point.targetConcurrency > 0 ? `c=${point.targetConcurrency}` : rate(point.targetQps);
  return [
    time(point.timeMs).padEnd(8),
    target.padStart(8),
    String(point.sent).padStart(8),
    String(point.completed).padStart(11),
    ms(point.p50Ms).padStart(7),
    ms(point.p99Ms).padStart(7),
    ms(point.maxMs).padStart(7),
    String(point.errors).padStart(9),
    String(point.inFlight + point.backlog).padStart(10),
    String(point.step || "-").padStart(5),
  ].join(" ");
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

import { StressTaskSpec, type StressPoint, type StressStep, type StressSummary, type StressTaskInfo } from "@eas/proto";

/** One row of the status table: an HTTP code, or a request that got no answer. */
export interface StatusRow {
  status: string;
  meaning: string;
  count: number;
  /** Of every request that ended. */
  share: number;
}

/** The report's JSON: the task, its summary and steps, and every per-second point (docs/stress-tests.md). */
export interface StressReportModel {
  format: "eas-stress-report/v1";
  generatedAt: string;
  task: {
    id: string;
    name: string;
    service: string;
    mode: string;
    /** Closed-loop latency is measured from each request's actual send and hides queueing (coordinated omission). */
    closedLoop: boolean;
    status: string;
    reason: string;
    createdAt: string;
    startedAt: string;
    finishedAt: string;
    loadStartsAtMs: number;
    workers: string[];
    spec: unknown;
  };
  /** The summary; its histogram (every latency, HdrHistogram V2 compressed) as base64. */
  summary: (Omit<StressSummary, "latencyHistogramUs"> & { latencyHistogramUs: string }) | null;
  steps: StressStep[];
  statuses: StatusRow[];
  points: StressPoint[];
}

const MEANINGS: Record<number, string> = {
  200: "OK",
  201: "Created",
  204: "No Content",
  400: "Bad Request",
  401: "Unauthorized (token)",
  404: "Not Found",
  408: "Request Timeout",
  413: "Payload Too Large",
  429: "Too Many Requests (the service's rate limit)",
  450: "Queue full (the service's concurrency limit)",
  499: "Client went away",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable (no ready instance)",
  504: "Gateway Timeout",
};

/** The status table: each code, then timeouts and connection failures, most frequent first. */
export function statusRows(summary: StressSummary | undefined): StatusRow[] {
  if (!summary) return [];
  const ended = summary.completed + summary.connectionErrors;
  const share = (count: number) => (ended === 0 ? 0 : count / ended);
  const rows: StatusRow[] = Object.entries(summary.responsesByCode).map(([code, count]) => ({
    status: code,
    meaning: MEANINGS[Number(code)] ?? "",
    count,
    share: share(count),
  }));
  if (summary.timeouts > 0)
    rows.push({ status: "timeout", meaning: "no answer within http.timeout", count: summary.timeouts, share: share(summary.timeouts) });
  if (summary.connectionErrors > 0) {
    rows.push({
      status: "error",
      meaning: "connection refused or reset",
      count: summary.connectionErrors,
      share: share(summary.connectionErrors),
    });
  }
  return rows.sort((a, b) => b.count - a.count);
}

/** Builds the report's model from the task as the log knows it and its per-second points. */
export function buildReportModel(info: StressTaskInfo, points: readonly StressPoint[], generatedAt: string): StressReportModel {
  const spec = info.spec ?? StressTaskSpec.fromPartial({});
  return {
    format: "eas-stress-report/v1",
    generatedAt,
    task: {
      id: info.id,
      name: spec.name,
      service: spec.serviceName,
      mode: spec.mode,
      closedLoop: spec.mode === "concurrency",
      status: info.status,
      reason: info.reason,
      createdAt: info.createdAt,
      startedAt: info.startedAt,
      finishedAt: info.finishedAt,
      loadStartsAtMs: info.loadStartsAtMs,
      workers: info.workerIds,
      spec: StressTaskSpec.toJSON(spec),
    },
    // Plain objects with every field, zeros included (proto3 JSON would drop them), for pandas and friends.
    summary: info.summary ? { ...info.summary, latencyHistogramUs: Buffer.from(info.summary.latencyHistogramUs).toString("base64") } : null,
    steps: info.steps.map((step) => ({ ...step })),
    statuses: statusRows(info.summary),
    points: points.map((point) => ({ ...point })),
  };
}

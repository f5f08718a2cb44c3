import { LatencyCounts, mergeEncodedLatencies } from "@eas/metrics";
import type { StressPoint, StressSummary, StressWorkerReport } from "@eas/proto";
import type { StepFigures, StepLoad } from "./load-plan.js";

/** One second of a task, summed over its workers' reports; histograms kept encoded and merged, never percentiles. */
export interface TaskSecond {
  readonly startMs: number;
  planned: number;
  sent: number;
  completed: number;
  timeouts: number;
  connectionErrors: number;
  bytesIn: number;
  readonly codes: Map<number, number>;
  /** Encoded histograms not merged yet; merged into one when the second closes (and again for a late report). */
  histograms: Uint8Array[];
  inFlight: number;
  backlog: number;
  readonly workers: Set<string>;
  closed: boolean;
}

/** The load in force from `fromMs`, and the step it belongs to (0: between steps). */
export interface LoadPeriod {
  fromMs: number;
  load: StepLoad;
  step: number;
}

const isOk = (code: number) => code >= 200 && code < 300;

function okOf(codes: ReadonlyMap<number, number>): number {
  let ok = 0;
  for (const [code, count] of codes) if (isOk(code)) ok += count;
  return ok;
}

/** Non-2xx answers, timeouts and connection failures. */
function errorsOf(second: Pick<TaskSecond, "completed" | "timeouts" | "connectionErrors" | "codes">): number {
  // completed = answers + timeouts, so this is the non-2xx answers plus the timeouts, plus the connection failures.
  return second.completed - okOf(second.codes) + second.connectionErrors;
}

/** The load and step in force at `ms`. */
export function periodAt(periods: readonly LoadPeriod[], ms: number): LoadPeriod | undefined {
  let found: LoadPeriod | undefined;
  for (const period of periods) if (period.fromMs <= ms) found = period;
  return found;
}

/**
 * A task's seconds as its workers report them. A second closes once (its point goes to the live view);
 * a report that arrives after that still counts in steps and in the summary.
 */
export class TaskSeconds {
  readonly #seconds = new Map<number, TaskSecond>();
  readonly #scratch = new LatencyCounts();

  /** Adds a worker's report of one second; reports with nothing measured only count the worker. */
  add(report: StressWorkerReport): void {
    let second = this.#seconds.get(report.startMs);
    if (!second) {
      second = {
        startMs: report.startMs,
        planned: 0,
        sent: 0,
        completed: 0,
        timeouts: 0,
        connectionErrors: 0,
        bytesIn: 0,
        codes: new Map(),
        histograms: [],
        inFlight: 0,
        backlog: 0,
        workers: new Set(),
        closed: false,
      };
      this.#seconds.set(report.startMs, second);
    }
    second.workers.add(report.workerId);
    second.planned += report.planned;
    second.sent += report.sent;
    second.completed += report.completed;
    second.timeouts += report.timeouts;
    second.connectionErrors += report.connectionErrors;
    second.bytesIn += report.bytesIn;
    second.inFlight += report.inFlight;
    second.backlog += report.backlog;
    for (const [code, count] of Object.entries(report.responsesByCode))
      second.codes.set(Number(code), (second.codes.get(Number(code)) ?? 0) + count);
    if (report.latencyHistogramUs.length > 0) {
      second.histograms.push(report.latencyHistogramUs);
      if (second.closed) second.histograms = [mergeEncodedLatencies(second.histograms)];
    }
  }

  /** Seconds ending at or before `throughMs` not closed yet, oldest first; each is returned once. */
  close(throughMs: number): TaskSecond[] {
    const closing = [...this.#seconds.values()]
      .filter((s) => !s.closed && s.startMs + 1000 <= throughMs)
      .sort((a, b) => a.startMs - b.startMs);
    for (const second of closing) {
      second.closed = true;
      second.histograms = second.histograms.length > 0 ? [mergeEncodedLatencies(second.histograms)] : [];
    }
    return closing;
  }

  /** Every second in [fromMs, toMs), oldest first. */
  between(fromMs: number, toMs: number): TaskSecond[] {
    return [...this.#seconds.values()].filter((s) => s.startMs >= fromMs && s.startMs < toMs).sort((a, b) => a.startMs - b.startMs);
  }

  /** The per-second point of a second, percentiles from its merged histogram. */
  pointOf(second: TaskSecond, period: LoadPeriod | undefined): StressPoint {
    const latency = this.#merge([second]);
    const has = latency.total > 0;
    return {
      timeMs: second.startMs,
      targetQps: period?.load.closedLoop ? 0 : (period?.load.rate ?? 0),
      targetConcurrency: period?.load.closedLoop ? period.load.concurrency : 0,
      planned: second.planned,
      sent: second.sent,
      completed: second.completed,
      ok: okOf(second.codes),
      errors: errorsOf(second),
      responsesByCode: Object.fromEntries(second.codes),
      timeouts: second.timeouts,
      connectionErrors: second.connectionErrors,
      ...(has
        ? {
            p50Ms: latency.valueAtPercentile(50) / 1000,
            p90Ms: latency.valueAtPercentile(90) / 1000,
            p99Ms: latency.valueAtPercentile(99) / 1000,
            maxMs: latency.max / 1000,
            meanMs: latency.mean / 1000,
          }
        : {}),
      inFlight: second.inFlight,
      backlog: second.backlog,
      workers: second.workers.size,
      step: period?.step ?? 0,
    };
  }

  /** A step's figures over [fromMs, toMs): counts summed, histograms merged. */
  figures(fromMs: number, toMs: number): StepFigures {
    const seconds = this.between(fromMs, toMs);
    const latency = this.#merge(seconds);
    const sum = (pick: (s: TaskSecond) => number) => seconds.reduce((total, s) => total + pick(s), 0);
    const completed = sum((s) => s.completed);
    // Achieved: requests answered, whatever the status; a timed-out request was not served.
    const answered = completed - sum((s) => s.timeouts);
    const spanSeconds = Math.max(1, (toMs - fromMs) / 1000);
    return {
      sent: sum((s) => s.sent),
      completed,
      errors: sum(errorsOf),
      connectionErrors: sum((s) => s.connectionErrors),
      achievedQps: answered / spanSeconds,
      p50Ms: latency.valueAtPercentile(50) / 1000,
      p99Ms: latency.valueAtPercentile(99) / 1000,
      maxMs: latency.max / 1000,
    };
  }

  /**
   * The whole task from `loadFromMs` for `loadMs` (the time load was asked for): every request counted,
   * including answers that arrived after the end; rates over the load's duration.
   */
  summary(loadFromMs: number, loadMs: number, closedLoop: boolean): StressSummary {
    const seconds = this.between(loadFromMs, Number.POSITIVE_INFINITY);
    const latency = this.#merge(seconds);
    const codes = new Map<number, number>();
    for (const second of seconds) for (const [code, count] of second.codes) codes.set(code, (codes.get(code) ?? 0) + count);
    const sum = (pick: (s: TaskSecond) => number) => seconds.reduce((total, s) => total + pick(s), 0);
    const durationS = Math.max(0.001, loadMs / 1000);
    const completed = sum((s) => s.completed);
    return {
      planned: sum((s) => s.planned),
      sent: sum((s) => s.sent),
      completed,
      ok: okOf(codes),
      errors: sum(errorsOf),
      timeouts: sum((s) => s.timeouts),
      connectionErrors: sum((s) => s.connectionErrors),
      responsesByCode: Object.fromEntries(codes),
      durationMs: Math.round(loadMs),
      offeredQps: sum((s) => s.planned) / durationS,
      achievedQps: (completed - sum((s) => s.timeouts)) / durationS,
      meanMs: latency.mean / 1000,
      p50Ms: latency.valueAtPercentile(50) / 1000,
      p90Ms: latency.valueAtPercentile(90) / 1000,
      p99Ms: latency.valueAtPercentile(99) / 1000,
      p999Ms: latency.valueAtPercentile(99.9) / 1000,
      maxMs: latency.max / 1000,
      closedLoop,
      limitReason: "",
      latencyHistogramUs: latency.encode(),
    };
  }

  #merge(seconds: readonly TaskSecond[]): LatencyCounts {
    this.#scratch.clear();
    for (const second of seconds) for (const histogram of second.histograms) this.#scratch.addEncoded(histogram);
    return this.#scratch;
  }
}

import { ValidationError, type FieldViolation } from "@eas/decider";
import type { PointStats, QuerySeriesRequest, Series, SeriesPoint } from "@eas/proto";
import { findMetric, readMetrics, type MetricDefinition } from "./metrics.js";
import { mergeStats } from "./point-stats.js";

/** The two resolutions the monitor keeps. */
export type Tier = "1s" | "1m";

export const TIER_MS: Record<Tier, number> = { "1s": 1_000, "1m": 60_000 };

export type Breakdown = "" | "version" | "instance";

/** A validated query: which points to read and how to fold them. */
export interface QueryPlan {
  service: string;
  metrics: MetricDefinition[];
  /** Aligned on the step; the range is [fromMs, toMs). */
  fromMs: number;
  toMs: number;
  stepMs: number;
  tier: Tier;
  version: number;
  instanceId: string;
  breakdown: Breakdown;
}

export interface QueryContext {
  nowMs: number;
  /** End of the last closed second: later seconds are still being measured. */
  closedThroughMs: number;
  /** How long 1-second points are kept. */
  secondRetentionMs: number;
  minuteRetentionMs: number;
  knownService(service: string): boolean;
}

/** The most points one series may have, as Prometheus allows. */
export const MAX_POINTS_PER_SERIES = 11_000;
const DEFAULT_RANGE_MS = 10 * 60_000;

/** Checks a QuerySeries request and turns it into a plan; every bad field is named in one ValidationError. */
export function planQuery(request: QuerySeriesRequest, context: QueryContext): QueryPlan {
  const violations: FieldViolation[] = [];
  if (!request.service) violations.push({ path: "service", message: "is required" });
  else if (!context.knownService(request.service)) violations.push({ path: "service", message: `unknown service "${request.service}"` });

  const metrics: MetricDefinition[] = [];
  if (request.metrics.length === 0) violations.push({ path: "metrics", message: "name at least one metric" });
  request.metrics.forEach((name, index) => {
    const metric = findMetric(name);
    if (!metric) violations.push({ path: `metrics[${index}]`, message: `unknown metric "${name}"` });
    else metrics.push(metric);
  });

  const breakdown = request.breakdown as Breakdown;
  if (!["", "version", "instance"].includes(request.breakdown)) {
    violations.push({ path: "breakdown", message: `must be "", "version" or "instance", got "${request.breakdown}"` });
  }
  if (request.version && request.instanceId) violations.push({ path: "instance_id", message: "give a version or an instance, not both" });
  const narrowed = breakdown !== "" || request.version > 0 || request.instanceId !== "";
  if (narrowed) {
    for (const metric of metrics) {
      if (!metric.breakdown) violations.push({ path: "metrics", message: `${metric.name} has no value per version or instance` });
    }
  }

  const toMs = request.toMs > 0 ? request.toMs : context.nowMs;
  const fromMs = request.fromMs > 0 ? request.fromMs : toMs - DEFAULT_RANGE_MS;
  if (request.fromMs < 0) violations.push({ path: "from_ms", message: "must not be negative" });
  if (request.toMs < 0) violations.push({ path: "to_ms", message: "must not be negative" });
  if (fromMs >= toMs) violations.push({ path: "from_ms", message: "must be before to_ms" });

  const secondsKeptFrom = context.nowMs - context.secondRetentionMs;
  let stepSeconds = request.stepSeconds;
  if (stepSeconds === 0) stepSeconds = fromMs >= secondsKeptFrom ? 1 : 60;
  const tier: Tier = stepSeconds < 60 ? "1s" : "1m";
  if (tier === "1m" && stepSeconds % 60 !== 0) {
    violations.push({ path: "step_seconds", message: `from 60 on, must be a multiple of 60 (1-minute points), got ${stepSeconds}` });
  }
  if (tier === "1s" && fromMs < secondsKeptFrom) {
    violations.push({
      path: "from_ms",
      message: `1-second points are kept ${context.secondRetentionMs / 60_000} minutes; use step_seconds >= 60 for older ranges`,
    });
  }
  if (tier === "1m" && fromMs < context.nowMs - context.minuteRetentionMs) {
    violations.push({ path: "from_ms", message: `1-minute points are kept ${context.minuteRetentionMs / 86_400_000} days` });
  }
  const stepMs = stepSeconds * 1000;
  const alignedFrom = Math.floor(fromMs / stepMs) * stepMs;
  // Only whole steps that have closed: a partial step would show a rate too low.
  const alignedTo = Math.floor(Math.min(toMs, context.closedThroughMs) / stepMs) * stepMs;
  if ((alignedTo - alignedFrom) / stepMs > MAX_POINTS_PER_SERIES) {
    violations.push({ path: "step_seconds", message: `the range holds more than ${MAX_POINTS_PER_SERIES} steps of ${stepSeconds} s` });
  }
  if (violations.length > 0) throw new ValidationError(violations);
  return {
    service: request.service,
    metrics,
    fromMs: alignedFrom,
    toMs: Math.max(alignedFrom, alignedTo),
    stepMs,
    tier,
    version: request.version,
    instanceId: request.instanceId,
    breakdown,
  };
}

interface Subject {
  version: number;
  instanceId: string;
  pick(point: SeriesPoint): PointStats | undefined;
}

function subjectsOf(plan: QueryPlan, points: readonly SeriesPoint[]): Subject[] {
  if (plan.instanceId) return [{ version: 0, instanceId: plan.instanceId, pick: (p) => p.instances[plan.instanceId] }];
  if (plan.version) return [{ version: plan.version, instanceId: "", pick: (p) => p.versions[plan.version] }];
  if (plan.breakdown === "version") {
    const versions = [...new Set(points.flatMap((p) => Object.keys(p.versions).map(Number)))].sort((a, b) => a - b);
    return versions.map((version) => ({ version, instanceId: "", pick: (p) => p.versions[version] }));
  }
  if (plan.breakdown === "instance") {
    const ids = [...new Set(points.flatMap((p) => Object.keys(p.instances)))].sort();
    return ids.map((instanceId) => ({ version: 0, instanceId, pick: (p) => p.instances[instanceId] }));
  }
  return [{ version: 0, instanceId: "", pick: (p) => p.total }];
}

/**
 * Folds points into the plan's steps and reads each metric from the merged statistics of a step: counts are
 * summed, histograms merged (a step's p99 is the p99 of its requests), levels averaged over the step.
 * A step without a value for a metric (a latency without requests) is left out; rates and levels are 0.
 */
export function evaluateQuery(plan: QueryPlan, points: readonly SeriesPoint[]): Series[] {
  const steps = Math.round((plan.toMs - plan.fromMs) / plan.stepMs);
  const inRange = points.filter((p) => p.startMs >= plan.fromMs && p.startMs < plan.toMs);
  const byStep: SeriesPoint[][] = Array.from({ length: steps }, () => []);
  for (const point of inRange) byStep[Math.floor((point.startMs - plan.fromMs) / plan.stepMs)]!.push(point);
  const stepSeconds = plan.stepMs / 1000;

  const series: Series[] = [];
  for (const subject of subjectsOf(plan, inRange)) {
    const perMetric = plan.metrics.map((metric) => ({
      metric: metric.name,
      unit: metric.unit,
      version: subject.version,
      instanceId: subject.instanceId,
      points: [] as { timeMs: number; value: number }[],
    }));
    byStep.forEach((stepPoints, index) => {
      const parts = stepPoints.map(subject.pick).filter((s): s is PointStats => s !== undefined);
      const stats = parts.length > 0 ? mergeStats(parts) : undefined;
      const values = readMetrics(stats, stepSeconds, plan.metrics);
      const timeMs = plan.fromMs + index * plan.stepMs;
      values.forEach((value, m) => {
        if (value !== undefined) perMetric[m]!.points.push({ timeMs, value });
      });
    });
    if (subject.instanceId) {
      const version = inRange.map((p) => p.instances[subject.instanceId]?.version).find((v) => v);
      for (const s of perMetric) s.version = version ?? 0;
    }
    series.push(...perMetric);
  }
  return series;
}

/** Keeps the last point of each start time: a point written again after a restart replaces the earlier one. */
export function dedupeByStart(points: readonly SeriesPoint[]): SeriesPoint[] {
  const byStart = new Map<number, SeriesPoint>();
  for (const point of points) byStart.set(point.startMs, point);
  return [...byStart.values()].sort((a, b) => a.startMs - b.startMs);
}

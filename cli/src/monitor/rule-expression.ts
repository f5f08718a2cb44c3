/** An alert rule as the CLI reads it: `p99 > 300ms for 30s`, `error_ratio > 1% for 1m`, `instances_ready < 1`. */
export interface RuleExpression {
  metric: string;
  comparison: ">" | ">=" | "<" | "<=";
  /** In the metric's own unit (ms for latencies, a fraction for ratios). */
  threshold: number;
  windowSeconds: number;
}

const DURATION_UNITS: Record<string, number> = { "": 1, s: 1, m: 60, h: 3_600, d: 86_400 };

/** `30s`, `1m`, `1h30m`, `90` (seconds) -> seconds. */
export function parseDuration(text: string): number {
  const parts = [...text.trim().matchAll(/(\d+(?:\.\d+)?)([smhd]?)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text.trim())
    throw new Error(`"${text}" is not a duration (e.g. 30s, 10m, 1h)`);
  return Math.round(parts.reduce((total, [, value, unit]) => total + Number(value) * DURATION_UNITS[unit ?? ""]!, 0));
}

/**
 * Reads a rule. The threshold may carry a unit: `ms` or `s` for the latency metrics (p50...p99, rt_max,
 * rt_mean), `%` for the ratios. `for <duration>` is the window; without it, one second.
 */
export function parseRuleExpression(text: string): RuleExpression {
  const match = /^\s*([a-z0-9_]+)\s*(>=|<=|>|<)\s*(-?\d+(?:\.\d+)?)\s*(ms|s|%)?\s*(?:for\s+(\S+))?\s*$/.exec(text);
  if (!match)
    throw new Error(
      `cannot read rule "${text}": expected "<metric> <op> <threshold>[ms|s|%] [for <duration>]", e.g. "p99 > 300ms for 30s"`,
    );
  const [, metric, comparison, number, unit, window] = match;
  const latency = /^(p\d+|rt_max|rt_mean)$/.test(metric!);
  const ratio = /ratio/.test(metric!);
  let threshold = Number(number);
  if (unit === "ms" || unit === "s") {
    if (!latency) throw new Error(`${metric} is not a latency: "${unit}" does not apply`);
    if (unit === "s") threshold *= 1000;
  } else if (unit === "%") {
    if (!ratio) throw new Error(`${metric} is not a ratio: "%" does not apply`);
    threshold /= 100;
  }
  return {
    metric: metric!,
    comparison: comparison as RuleExpression["comparison"],
    threshold,
    windowSeconds: window ? parseDuration(window) : 1,
  };
}

/** A rule written back the way `parseRuleExpression` reads it. */
export function formatRule(rule: { metric: string; comparison: string; threshold: number; windowSeconds: number }): string {
  const latency = /^(p\d+|rt_max|rt_mean)$/.test(rule.metric);
  const ratio = /ratio/.test(rule.metric);
  const threshold = latency ? `${rule.threshold}ms` : ratio ? `${+(rule.threshold * 100).toPrecision(6)}%` : String(rule.threshold);
  return `${rule.metric} ${rule.comparison} ${threshold} for ${formatDuration(rule.windowSeconds)}`;
}

export function formatDuration(seconds: number): string {
  if (seconds % 3_600 === 0) return `${seconds / 3_600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}

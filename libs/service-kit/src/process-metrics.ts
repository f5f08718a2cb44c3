import { collectDefaultMetrics, type Registry } from "prom-client";

/**
 * prom-client's totals of the per-type `nodejs_active_{handles,requests,resources}` gauges. A gauge must not
 * end in `_total` (`promtool check metrics` fails the whole scrape on them), and `sum(...)` of the per-type
 * gauges gives the same figure.
 */
const GAUGES_NAMED_LIKE_COUNTERS = ["nodejs_active_handles_total", "nodejs_active_requests_total", "nodejs_active_resources_total"];

/** prom-client's default process and Node.js metrics, less the ones Prometheus' own linter rejects. */
export function collectProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry });
  for (const name of GAUGES_NAMED_LIKE_COUNTERS) registry.removeSingleMetric(name);
}

import type { LatestPoint } from "@eas/proto";

const BARS = "▁▂▃▄▅▆▇█";

/** A one-line chart of `values`, scaled between their least and greatest; a gap (no value) is a space. */
export function sparkline(values: readonly (number | undefined)[]): string {
  const present = values.filter((v): v is number => v !== undefined);
  if (present.length === 0) return " ".repeat(values.length);
  const low = Math.min(...present);
  const high = Math.max(...present);
  return values
    .map((v) => {
      if (v === undefined) return " ";
      if (high === low) return BARS[v === 0 ? 0 : 3]!;
      return BARS[Math.round(((v - low) / (high - low)) * (BARS.length - 1))]!;
    })
    .join("");
}

export function formatNumber(value: number | undefined, unit = ""): string {
  if (value === undefined) return "-";
  if (unit === "%") return `${(value * 100).toFixed(value < 0.1 ? 2 : 1)}%`;
  if (unit === "bytes") {
    const units = ["B", "KiB", "MiB", "GiB"];
    let n = value;
    let u = 0;
    while (n >= 1024 && u < units.length - 1) {
      n /= 1024;
      u++;
    }
    return `${n.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
  }
  const digits = Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2;
  return `${value.toFixed(digits)}${unit}`;
}

/** What `eas monitor` keeps between seconds: the last minute of the headline metrics. */
export class LiveHistory {
  readonly #points: LatestPoint[] = [];
  constructor(readonly length = 60) {}

  push(point: LatestPoint): void {
    this.#points.push(point);
    if (this.#points.length > this.length) this.#points.shift();
  }

  series(metric: string): (number | undefined)[] {
    return this.#points.map((p) => p.values[metric]);
  }

  get latest(): LatestPoint | undefined {
    return this.#points.at(-1);
  }
}

const HEADLINES: { metric: string; label: string; unit: string }[] = [
  { metric: "qps", label: "QPS", unit: "" },
  { metric: "error_ratio", label: "Errors (5xx)", unit: "%" },
  { metric: "p50", label: "RT p50", unit: "ms" },
  { metric: "p99", label: "RT p99", unit: "ms" },
  { metric: "in_flight", label: "In flight", unit: "" },
  { metric: "queued", label: "Queued", unit: "" },
];

/** The screen of `eas monitor <service>` for the latest second and the minute before it. */
export function renderLiveView(service: string, history: LiveHistory): string {
  const latest = history.latest;
  if (!latest) return `${service}: waiting for the first second...`;
  const time = new Date(latest.timeMs).toISOString().slice(11, 19);
  const lines = [`${service}  ${time}  instances ready: ${latest.values["instances_ready"] ?? 0}`, ""];
  for (const { metric, label, unit } of HEADLINES) {
    lines.push(`${label.padEnd(13)} ${formatNumber(latest.values[metric], unit).padStart(10)}  ${sparkline(history.series(metric))}`);
  }
  const cpu = latest.values["cpu"];
  lines.push(
    `${"CPU".padEnd(13)} ${(cpu === undefined ? "-" : `${formatNumber(cpu)}%`).padStart(10)}  ${sparkline(history.series("cpu"))}`,
  );
  lines.push(`${"Memory".padEnd(13)} ${formatNumber(latest.values["memory"], "bytes").padStart(10)}`);
  if (latest.instances.length > 0) {
    lines.push(
      "",
      `${"Instance".padEnd(32)} ${"Ver".padStart(3)} ${"QPS".padStart(8)} ${"p99".padStart(9)} ${"CPU".padStart(7)} ${"Memory".padStart(10)}`,
    );
    for (const instance of latest.instances) {
      const v = instance.values;
      lines.push(
        `${instance.instanceId.padEnd(32)} ${String(instance.version).padStart(3)} ${formatNumber(v["qps"]).padStart(8)} ${formatNumber(v["p99"], "ms").padStart(9)} ${`${formatNumber(v["cpu"])}%`.padStart(7)} ${formatNumber(v["memory"], "bytes").padStart(10)}`,
      );
    }
  }
  return lines.join("\n");
}

import type { GroupInfo, ReleaseStatus, ReleaseStepMeasured, VersionFigures } from "@eas/proto";
import { table } from "../format.js";

const percent = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;
const figures = (f: VersionFigures | undefined) =>
  f
    ? `v${f.version}: ${f.requests} req, ${percent(f.errorRatio)} errors, p99 ${f.p99Ms === undefined ? "-" : `${f.p99Ms.toFixed(1)} ms`}`
    : "-";

function measurementsTable(measurements: readonly ReleaseStepMeasured[]): string {
  return table(
    ["Step", "Window", "Canary", "Stable", "Verdict", "Gates"],
    measurements.map((m) => [
      m.step,
      `${m.windowFrom.slice(11, 19)}-${m.windowTo.slice(11, 19)}`,
      figures(m.canary),
      figures(m.stable),
      m.verdict,
      m.gates.map((g) => `${g.gate} ${g.outcome}${g.outcome === "fail" ? `: ${g.detail}` : ""}`).join("; "),
    ]),
  );
}

/** `eas release <service> --status` as text: stable version, canary, plan and its measurements, last outcome, mirror. */
export function describeRelease(status: ReleaseStatus): string {
  const lines = [`Service ${status.name}: stable version ${status.stableVersion}`];
  const { canary, plan, last, mirror } = status;
  if (canary) {
    const replicas = `${canary.ready}/${canary.replicas} Ready${canary.replicasAsked === 0 ? " (following the weight)" : ""}`;
    lines.push(`Canary: version ${canary.version} at ${canary.weight}%, ${replicas}, by ${canary.cause} since ${canary.startedAt}`);
    if (canary.reason) lines.push(`  not Ready: ${canary.reason}`);
  } else {
    lines.push("Canary: none");
  }
  if (plan?.plan) {
    const steps = plan.plan.steps.map((s) => (s.weight === 100 ? "100" : `${s.weight}%:${s.bakeSeconds}s`)).join(" -> ");
    const g = plan.plan.gates;
    lines.push(`Plan: ${steps}; ${plan.state}`);
    if (g) {
      lines.push(
        `  gates: errors <= stable + ${percent(g.maxErrorRatioIncrease ?? 0)}, p99 <= stable x ${g.maxP99Ratio} + ${g.p99SlackMs} ms, ` +
          `>= ${g.minRequests} requests a window`,
      );
    }
    if (plan.measurements.length > 0) lines.push(measurementsTable(plan.measurements));
  }
  if (last) {
    lines.push(
      `Last release: version ${last.version} ${last.outcome} by ${last.cause} at ${last.at}${last.reason ? `: ${last.reason}` : ""}`,
    );
    if (!plan && last.measurements.length > 0) lines.push(measurementsTable(last.measurements));
  }
  if (mirror) {
    const target = mirror.targetVersion ? `${mirror.target} version ${mirror.targetVersion}` : mirror.target;
    lines.push(`Mirror: ${mirror.ratio}% of requests copied to ${target} since ${mirror.since}`);
  }
  return lines.join("\n");
}

/** A group as text: endpoint, token, members with their weight and Ready instances. */
export function describeGroup(group: GroupInfo): string {
  const members = table(
    ["Service", "Weight", "Ready", "Exists"],
    group.members.map((m) => [m.service, m.weight, m.ready, m.exists ? "yes" : "no"]),
  );
  return [`Group ${group.name}`, `Endpoint: ${group.endpoint}`, `Token: ${group.token}`, members].join("\n");
}

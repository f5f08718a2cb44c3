import Table from "cli-table3";
import type { InstanceInfo, NodeInfo, ServiceInfo } from "@eas/proto";

export function table(head: string[], rows: (string | number)[][]): string {
  const t = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows) t.push(row.map(String));
  return t.toString();
}

export function progressLine(info: ServiceInfo): string {
  const detail = `[Total: ${info.totalInstances}, Pending: ${info.pendingInstances}, Running: ${info.runningInstances}]`;
  return `${info.status} ${detail}${info.reason ? ` ${info.reason}` : ""}`;
}

/** "2 -> 5 by autoscaler at <time>: qps 480 over 2 instances, target 100 -> 5". */
export function lastScaleLine(last: NonNullable<ServiceInfo["lastScale"]>): string {
  return `${last.fromReplicas} -> ${last.toReplicas} by ${last.cause || "user"} at ${last.at}${last.reason ? `: ${last.reason}` : ""}`;
}

export function describeService(info: ServiceInfo): string {
  const rows: [string, string | number][] = [
    ["Name", info.name],
    ["Status", info.status + (info.reason ? ` (${info.reason})` : "")],
    ["CurrentVersion", info.currentVersion],
    ["LatestVersion", info.latestVersion],
    [
      "Instances",
      `${info.runningInstances}/${info.desiredInstances} running, ${info.pendingInstances} pending, ${info.totalInstances} total`,
    ],
    ...(info.autoscaling ? ([["Autoscaling", info.autoscaling]] as [string, string][]) : []),
    ...(info.lastScale ? ([["LastScale", lastScaleLine(info.lastScale)]] as [string, string][]) : []),
    ["Endpoint", info.endpoint],
    ["Token", info.token],
    ["CreateTime", info.createdAt],
    ["UpdateTime", info.updatedAt],
  ];
  const t = new Table({ style: { head: [], border: [] } });
  for (const [k, v] of rows) t.push({ [k]: String(v) });
  let text = t.toString();
  if (info.instances.length > 0) {
    text +=
      "\n" +
      table(
        ["Instance", "Version", "Node", "Class", "Status", "Endpoint", "Restarts", "Reason"],
        info.instances.map((i) => [
          i.instanceId,
          i.version,
          i.nodeId,
          instanceClass(i),
          i.status,
          i.endpoint,
          i.restartCount,
          [i.moving && `moving (${i.moving})`, i.reason].filter(Boolean).join("; "),
        ]),
      );
    text += `\nBy class: ${classCounts(info.instances)}`;
  }
  for (const warning of info.placementWarnings) text += `\nWarning: ${warning}`;
  return text;
}

/** Where an instance runs, as EAS counts it: `dedicated` (its resource group) or `public` (the pool), `spot` when preemptible. */
export function instanceClass(instance: Pick<InstanceInfo, "pool" | "spot">): string {
  return `${instance.pool || "public"}${instance.spot ? " spot" : ""}`;
}

/** `2 dedicated, 1 public spot`: the instances counted by class, in a fixed order. */
export function classCounts(instances: readonly Pick<InstanceInfo, "pool" | "spot">[]): string {
  const counts = new Map<string, number>();
  for (const instance of instances) counts.set(instanceClass(instance), (counts.get(instanceClass(instance)) ?? 0) + 1);
  return [...counts.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, count]) => `${count} ${name}`)
    .join(", ");
}

/** The nodes as `eas nodes` lists them, with a reclaim deadline or why a node is out of service. */
export function nodesTable(nodes: readonly NodeInfo[]): string {
  return table(
    ["Node", "Status", "Group", "Spot", "Type", "CPU (m)", "Memory (MiB)", "GPU", "Instances", "Agent", "Note"],
    nodes.map((n) => [
      n.nodeId,
      n.status,
      n.resourceGroup || "public",
      n.spot ? "yes" : "no",
      n.instanceType || "-",
      `${n.allocated?.cpuMillis ?? 0}/${n.capacity?.cpuMillis ?? 0}`,
      `${n.allocated?.memoryMib ?? 0}/${n.capacity?.memoryMib ?? 0}`,
      `${n.allocated?.gpu ?? 0}/${n.capacity?.gpu ?? 0}`,
      n.instanceCount,
      n.agentAddress,
      n.reclaimDeadline ? `reclaimed at ${n.reclaimDeadline}` : n.statusReason,
    ]),
  );
}

export interface InstanceUsage {
  instanceId: string;
  service: string;
  nodeId: string;
  status: string;
  cpuPercent: number;
  memoryBytes: number;
}

/** Per-instance usage as `kubectl top pods` shows it: CPU in percent of one core, memory in MiB. */
export function usageTable(rows: InstanceUsage[]): string {
  return table(
    ["Instance", "Service", "Node", "Status", "CPU %", "Memory (MiB)"],
    rows.map((r) => [r.instanceId, r.service, r.nodeId, r.status, r.cpuPercent.toFixed(1), (r.memoryBytes / 1024 / 1024).toFixed(1)]),
  );
}

export interface InstanceLogs {
  instanceId: string;
  lines: { stream: string; text: string; at: string }[];
  /** Why the instance's agent could not be asked. */
  error?: string;
}

/** One instance's lines as they are; several instances' lines each prefixed with `[instance-id]`. */
export function formatLogs(logs: InstanceLogs[]): string {
  const prefixed = logs.length > 1;
  return logs
    .flatMap((log) => {
      const prefix = prefixed ? `[${log.instanceId}] ` : "";
      if (log.error) return [`${prefix}(no logs: ${log.error})`];
      return log.lines.map((line) => `${prefix}${line.text}`);
    })
    .join("\n");
}

/** Whether an event concerns `service`: its own events name it `name`, its instances' events `service`. */
export function concernsService(data: Record<string, unknown>, service: string): boolean {
  return data.service === service || data.name === service;
}

/** The fields of an event worth a glance in a one-line listing, as `key=value`. */
const GLANCE_FIELDS = [
  "version",
  "nodeId",
  "endpoint",
  "fromReplicas",
  "toReplicas",
  "toVersion",
  "exitCode",
  "cause",
  "deadline",
  "job",
  "state",
  "reason",
  "message",
] as const;

export function eventLine(record: { position: number; time: string; type: string; stream: string }, data: Record<string, unknown>): string {
  const glance = GLANCE_FIELDS.filter((key) => data[key] !== undefined && data[key] !== "" && data[key] !== 0)
    .map((key) => `${key}=${typeof data[key] === "string" ? (data[key] as string) : JSON.stringify(data[key])}`)
    .join(" ");
  return `${String(record.position).padStart(6)}  ${record.time}  ${record.type.padEnd(32)} ${record.stream}${glance ? `  ${glance}` : ""}`;
}

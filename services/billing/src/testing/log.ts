import { event, type EasEvent } from "@eas/events";
import { ServiceSpec, type Resources } from "@eas/proto";
import type { HourlyRates } from "@eas/contracts";

/** The day scripted tests run on: "08:00:00" is 2026-12-01T08:00:00Z; "24:00:00" the next midnight. */
export const DAY = "2026-12-01";

/** An ISO time on {@link DAY}: `at("12:00:40")`; hours past 23 roll into the next day. */
export function at(clock: string): string {
  const [h, m, s] = clock.split(":").map(Number) as [number, number, number];
  return new Date(Date.parse(`${DAY}T00:00:00Z`) + ((h * 60 + m) * 60 + s) * 1000).toISOString();
}
export const ms = (clock: string): number => Date.parse(at(clock));

export function resources(cpuMillis: number, memoryMib: number, gpu = 0): Resources {
  return { cpuMillis, memoryMib, gpu, gpuType: gpu > 0 ? "A10" : "", gpuMemoryGib: 0 };
}

export function rates(cpuCoreHourMicros: number, memoryGibHourMicros: number, gpuHourMicros = 0): HourlyRates {
  return { cpuCoreHourMicros, memoryGibHourMicros, gpuHourMicros };
}

/** Writes a scripted log: each helper returns the event, the way its real writer records it. */
export const log = {
  nodeRegistered(nodeId: string, clock: string, options: { group?: string; spot?: boolean; rates?: HourlyRates; capacity?: Resources }) {
    return event("NodeRegistered", {
      nodeId,
      capacity: options.capacity ?? resources(8000, 32768, 1),
      resourceGroup: options.group ?? "",
      spot: options.spot ?? false,
      pricePerHour: 0,
      agentAddress: `127.0.0.1:${7000 + nodeId.length}`,
      labels: {},
      at: at(clock),
      rates: options.rates,
    });
  },
  nodeLost: (nodeId: string, clock: string) => event("NodeLost", { nodeId, reason: "missed heartbeats for 5000 ms", at: at(clock) }),
  reclaimNoticed: (nodeId: string, clock: string, deadlineClock: string) =>
    event("NodeReclaimNoticed", { nodeId, deadline: at(deadlineClock), reason: "eas nodes reclaim", at: at(clock) }),
  /** Written at the deadline of the notice: `at` is the deadline, whenever the scheduler's check notices it. */
  reclaimed: (nodeId: string, deadlineClock: string) => event("NodeReclaimed", { nodeId, reason: "reclaimed", at: at(deadlineClock) }),
  serviceCreated(name: string, clock: string, instance = 1) {
    const spec = ServiceSpec.fromPartial({ name, instance });
    return event("ServiceCreated", { name, spec, version: 1, token: "", tokenSha256: "", createdAt: at(clock) });
  },
  scheduled(
    instanceId: string,
    service: string,
    nodeId: string,
    clock: string,
    r: Resources,
    placement: { pool?: string; spot?: boolean } = {},
  ) {
    return event("InstanceScheduled", {
      instanceId,
      service,
      version: 1,
      nodeId,
      resources: r,
      pool: placement.pool ?? "public",
      spot: placement.spot ?? false,
      at: at(clock),
    });
  },
  starting: (instanceId: string, service: string, nodeId: string, clock: string, restartCount = 0) =>
    event("InstanceStarting", { instanceId, service, nodeId, restartCount, at: at(clock) }),
  ready: (instanceId: string, service: string, nodeId: string, clock: string) =>
    event("InstanceReady", { instanceId, service, version: 1, nodeId, endpoint: "127.0.0.1:9000", at: at(clock) }),
  exited: (instanceId: string, service: string, clock: string, restartCount: number) =>
    event("InstanceExited", { instanceId, service, exitCode: 1, signal: "", reason: "exit 1", restartCount, at: at(clock) }),
  draining: (instanceId: string, service: string, clock: string) => event("InstanceDraining", { instanceId, service, at: at(clock) }),
  stopped: (instanceId: string, service: string, nodeId: string, clock: string) =>
    event("InstanceStopped", { instanceId, service, nodeId, reason: "stopped", at: at(clock) }),
  failed: (instanceId: string, service: string, clock: string, reason = "node lost") =>
    event("InstanceFailed", { instanceId, service, reason, at: at(clock) }),
  /** Its node stopped heartbeating: not an end, the process may run on (ADR 0022). */
  lost: (instanceId: string, service: string, nodeId: string, clock: string) =>
    event("InstanceLost", { instanceId, service, nodeId, reason: `node ${nodeId} lost`, at: at(clock) }),
  /** Its spot node is reclaimed at `deadlineClock`: a mark, the instance serves on until replaced (ADR 0024). */
  moveForReclaim: (instanceId: string, service: string, nodeId: string, clock: string, deadlineClock: string) =>
    event("InstanceMoveRequested", {
      instanceId,
      service,
      nodeId,
      cause: "reclaim",
      reason: `spot node ${nodeId} is reclaimed`,
      deadline: at(deadlineClock),
      at: at(clock),
    }),
};

/** An instance's usual life up to Ready: Scheduled, Starting one second later, Ready at `readyClock`. */
export function startedInstance(
  instanceId: string,
  service: string,
  nodeId: string,
  clock: string,
  readyClock: string,
  r: Resources,
  placement: { pool?: string; spot?: boolean } = {},
): EasEvent[] {
  return [
    log.scheduled(instanceId, service, nodeId, clock, r, placement),
    log.starting(instanceId, service, nodeId, clock),
    log.ready(instanceId, service, nodeId, readyClock),
  ];
}

/** Drained then stopped, the way the deployer and the agent end an instance. */
export function drainedInstance(instanceId: string, service: string, nodeId: string, drainClock: string, stopClock: string): EasEvent[] {
  return [log.draining(instanceId, service, drainClock), log.stopped(instanceId, service, nodeId, stopClock)];
}

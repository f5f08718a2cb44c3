/*
 * Builders for the scheduler's unit tests. Not part of the public surface
 * (not re-exported from index.ts).
 */
import { event, type EventOf } from "@eas/events";
import type { Resources } from "@eas/proto";
import type { Pool } from "../domain/index.js";
import { absentInstance, instanceLifecycleDecider } from "@eas/instance-lifecycle";
import { scheduleInstance, type PlacementDecision, type PlacementRequest } from "../placement/index.js";
import { emptyCluster, evolveCluster, type ClusterEvent, type ClusterState } from "../projections/evolve-cluster.js";

/** 2026-01-01T00:00:00Z, the tests' epoch. */
export const T0 = Date.parse("2026-01-01T00:00:00.000Z");

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

export function resources(partial: Partial<Resources> = {}): Resources {
  return { cpuMillis: 0, memoryMib: 0, gpu: 0, gpuType: "", gpuMemoryGib: 0, ...partial };
}

export interface NodeSpec {
  readonly id: string;
  readonly cpu?: number;
  readonly memory?: number;
  readonly gpu?: number;
  readonly gpuType?: string;
  readonly gpuMemoryGib?: number;
  readonly group?: string;
  readonly spot?: boolean;
  readonly price?: number;
  readonly instanceType?: string;
  readonly at?: number;
}

export function registered(spec: NodeSpec): EventOf<"eas.v1.NodeRegistered"> {
  return event("NodeRegistered", {
    nodeId: spec.id,
    capacity: resources({
      cpuMillis: spec.cpu ?? 4000,
      memoryMib: spec.memory ?? 8192,
      gpu: spec.gpu ?? 0,
      gpuType: spec.gpuType ?? "",
      gpuMemoryGib: spec.gpuMemoryGib ?? 0,
    }),
    resourceGroup: spec.group ?? "",
    spot: spec.spot ?? false,
    pricePerHour: spec.price ?? 1,
    agentAddress: `127.0.0.1:${7000 + spec.id.length}`,
    labels: {},
    rates: { cpuCoreHourMicros: 0, memoryGibHourMicros: 0, gpuHourMicros: 0 },
    at: iso(spec.at ?? T0),
    ...(spec.instanceType === undefined ? {} : { instanceType: spec.instanceType }),
  });
}

export function scheduled(
  instanceId: string,
  service: string,
  nodeId: string,
  used: Partial<Resources> = {},
  options: { pool?: Pool; spot?: boolean; at?: number } = {},
): EventOf<"eas.v1.InstanceScheduled"> {
  return event("InstanceScheduled", {
    instanceId,
    service,
    version: 1,
    nodeId,
    resources: resources(used),
    pool: options.pool ?? "public",
    spot: options.spot ?? false,
    at: iso(options.at ?? T0),
  });
}

export function clusterFrom(events: readonly ClusterEvent[], start: ClusterState = emptyCluster()): ClusterState {
  return events.reduce(evolveCluster, start);
}

/** Request shorthand: resources as flat numbers. */
export interface RequestSpec extends Partial<Omit<PlacementRequest, "resources">> {
  readonly cpu?: number;
  readonly memory?: number;
  readonly gpu?: number;
  readonly gpuType?: string;
  readonly gpuMemoryGib?: number;
}

export function request(spec: RequestSpec = {}): PlacementRequest {
  const { cpu, memory, gpu, gpuType, gpuMemoryGib, ...rest } = spec;
  return {
    instanceId: "i-new",
    service: "svc",
    version: 1,
    resources: resources({
      cpuMillis: cpu ?? 0,
      memoryMib: memory ?? 0,
      gpu: gpu ?? 0,
      gpuType: gpuType ?? "",
      gpuMemoryGib: gpuMemoryGib ?? 0,
    }),
    resourceGroup: "",
    resourceBurstable: false,
    spotAllowed: false,
    maxSpotPrice: 0,
    instanceTypes: [],
    ...rest,
  };
}

/** The InstanceScheduled the lifecycle decider writes for a placement decided at epoch ms `nowMs`. */
export function instanceScheduled(
  request: PlacementRequest,
  decision: Extract<PlacementDecision, { placed: true }>,
  nowMs: number,
): EventOf<"eas.v1.InstanceScheduled"> {
  const [scheduled] = instanceLifecycleDecider.decide(scheduleInstance(request, decision, iso(nowMs)), absentInstance(request.instanceId));
  if (scheduled?.type !== "eas.v1.InstanceScheduled") throw new Error("the decider did not schedule the instance");
  return scheduled;
}

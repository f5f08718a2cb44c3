/*
 * Builders for the scheduler's unit tests. Not part of the public surface
 * (not re-exported from index.ts).
 */
import type { Resources } from "@eas/proto";
import { ClusterEventType, type ClusterEvent, type InstanceScheduledEvent, type NodeRegisteredEvent } from "./events.js";
import { evolveCluster } from "./projection.js";
import { emptyCluster, type ClusterState, type Pool } from "./types.js";

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
  readonly at?: number;
}

export function registered(spec: NodeSpec): NodeRegisteredEvent {
  return {
    type: ClusterEventType.NodeRegistered,
    data: {
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
      at: iso(spec.at ?? T0),
    },
  };
}

export function scheduled(
  instanceId: string,
  service: string,
  nodeId: string,
  used: Partial<Resources> = {},
  options: { pool?: Pool; spot?: boolean; at?: number } = {},
): InstanceScheduledEvent {
  return {
    type: ClusterEventType.InstanceScheduled,
    data: {
      instanceId,
      service,
      version: 1,
      nodeId,
      resources: resources(used),
      pool: options.pool ?? "public",
      spot: options.spot ?? false,
      at: iso(options.at ?? T0),
    },
  };
}

export function clusterFrom(events: readonly ClusterEvent[], start: ClusterState = emptyCluster()): ClusterState {
  return events.reduce(evolveCluster, start);
}

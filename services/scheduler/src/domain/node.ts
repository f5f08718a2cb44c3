import type { EventOf } from "@eas/events";
import type { HourlyRates } from "@eas/contracts";
import type { Resources } from "@eas/proto";

/** Events of the Node aggregate (stream "node-<id>"), the ones the node decider emits. */
export type NodeEvent =
  | EventOf<"eas.v1.NodeRegistered">
  | EventOf<"eas.v1.NodeCordoned">
  | EventOf<"eas.v1.NodeUncordoned">
  | EventOf<"eas.v1.NodeLost">
  | EventOf<"eas.v1.NodeReclaimNoticed">
  | EventOf<"eas.v1.NodeReclaimed">;

/** Lifecycle status of a node as the scheduler sees it. */
export const NodeStatus = {
  /** Accepts new instances. */
  Ready: "Ready",
  /** Keeps its instances but accepts no new ones (operator decision). */
  Cordoned: "Cordoned",
  /** Missed its heartbeats; accepts nothing until its agent registers again. */
  Lost: "Lost",
  /** A spot node with a reclaim notice: accepts nothing; its instances move before the deadline. */
  Reclaiming: "Reclaiming",
  /** A spot node the cloud took back; accepts nothing until an agent registers it again. */
  Reclaimed: "Reclaimed",
} as const;
export type NodeStatus = (typeof NodeStatus)[keyof typeof NodeStatus];

/** Where an instance runs: a dedicated resource group or the shared public pool. */
export const Pool = {
  Dedicated: "dedicated",
  Public: "public",
} as const;
export type Pool = (typeof Pool)[keyof typeof Pool];

/** The `resourceGroup` value that stands for the public pool. */
export const PUBLIC_POOL = "";

/** Resources held on a node by one scheduled instance. */
export interface Allocation {
  readonly instanceId: string;
  readonly service: string;
  readonly version: number;
  readonly resources: Resources;
  readonly pool: Pool;
  readonly spot: boolean;
  /** Epoch ms of the InstanceScheduled event. */
  readonly scheduledAt: number;
}

/** One node of the cluster: its registration, status and allocations. */
export interface NodeState {
  readonly id: string;
  readonly capacity: Resources;
  /** Dedicated group name; {@link PUBLIC_POOL} ("") for the public pool. */
  readonly resourceGroup: string;
  readonly spot: boolean;
  readonly pricePerHour: number;
  /** Cloud instance type, matched against a service's instance-type list; "" for none. */
  readonly instanceType: string;
  /** host:port of the agent's gRPC API. */
  readonly agentAddress: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Hourly prices of its resources in micro-units (billing); free when the registration had none. */
  readonly rates: HourlyRates;
  readonly status: NodeStatus;
  /** Why the node is Cordoned, Lost, Reclaiming or Reclaimed; "" when Ready. */
  readonly statusReason: string;
  /** Epoch ms at which a reclaim notice says the node goes away; 0 without a notice. */
  readonly reclaimDeadline: number;
  /** Epoch ms of the latest NodeRegistered. */
  readonly registeredAt: number;
  /** Epoch ms of the latest heartbeat (a registration counts as one). */
  readonly lastHeartbeatAt: number;
  /** instanceId -> allocation. */
  readonly allocations: ReadonlyMap<string, Allocation>;
}

/** The pool a node belongs to. */
export function poolOf(node: Pick<NodeState, "resourceGroup">): Pool {
  return node.resourceGroup === PUBLIC_POOL ? Pool.Public : Pool.Dedicated;
}

/** Epoch ms of an ISO time from an event; `fallback` when it does not parse. */
export function epochMs(iso: string, fallback: number): number {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? fallback : ms;
}

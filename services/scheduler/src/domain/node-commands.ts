import type { HourlyRates } from "@eas/contracts";
import type { Resources } from "@eas/proto";

/** Names of the Node aggregate's commands. Every command carries `now`, an ISO 8601 time that becomes its event's `at`. */
export const NodeCommandType = {
  RegisterNode: "RegisterNode",
  CordonNode: "CordonNode",
  UncordonNode: "UncordonNode",
  MarkNodeLost: "MarkNodeLost",
  NoticeReclaim: "NoticeReclaim",
  MarkNodeReclaimed: "MarkNodeReclaimed",
} as const;
export type NodeCommandType = (typeof NodeCommandType)[keyof typeof NodeCommandType];

/** An agent announces its node (first start, restart, or changed capacity). */
export interface RegisterNode {
  readonly type: typeof NodeCommandType.RegisterNode;
  readonly nodeId: string;
  readonly capacity: Resources;
  /** Dedicated group name; "" for the public pool. */
  readonly resourceGroup: string;
  readonly spot: boolean;
  /** List price per hour (placement: spot ceiling, cheaper first). */
  readonly pricePerHour: number;
  /** Cloud instance type; "" for none. */
  readonly instanceType: string;
  readonly agentAddress: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Hourly prices of the node's resources in micro-units, for billing. */
  readonly rates: HourlyRates;
  /** ISO 8601 time; becomes the event's `at`. */
  readonly now: string;
}

/** Stop placing new instances on a node. */
export interface CordonNode {
  readonly type: typeof NodeCommandType.CordonNode;
  readonly nodeId: string;
  readonly reason: string;
  readonly now: string;
}

/** Place instances on a cordoned node again. */
export interface UncordonNode {
  readonly type: typeof NodeCommandType.UncordonNode;
  readonly nodeId: string;
  readonly now: string;
}

/** Declare a node gone (usually because {@link findLostNodes} found its heartbeats missing). */
export interface MarkNodeLost {
  readonly type: typeof NodeCommandType.MarkNodeLost;
  readonly nodeId: string;
  readonly reason: string;
  readonly now: string;
}

/** The cloud will take a spot node back at `deadline`: it takes no new instance, and its instances move. */
export interface NoticeReclaim {
  readonly type: typeof NodeCommandType.NoticeReclaim;
  readonly nodeId: string;
  /** ISO 8601 time of the reclaim. */
  readonly deadline: string;
  /** Who delivered the notice. */
  readonly reason: string;
  readonly now: string;
}

/** The reclaim deadline has come: the node is gone. `now` is the deadline (the moment of the reclaim). */
export interface MarkNodeReclaimed {
  readonly type: typeof NodeCommandType.MarkNodeReclaimed;
  readonly nodeId: string;
  readonly reason: string;
  readonly now: string;
}

export type NodeCommand = RegisterNode | CordonNode | UncordonNode | MarkNodeLost | NoticeReclaim | MarkNodeReclaimed;

import type { Resources } from "@eas/proto";

/** Names of the Node aggregate's commands. */
export const NodeCommandType = {
  RegisterNode: "RegisterNode",
  CordonNode: "CordonNode",
  UncordonNode: "UncordonNode",
  MarkNodeLost: "MarkNodeLost",
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
  readonly pricePerHour: number;
  readonly agentAddress: string;
  readonly labels: Readonly<Record<string, string>>;
  /** Epoch ms. */
  readonly now: number;
}

/** Stop placing new instances on a node. */
export interface CordonNode {
  readonly type: typeof NodeCommandType.CordonNode;
  readonly nodeId: string;
  readonly reason: string;
  readonly now: number;
}

/** Place instances on a cordoned node again. */
export interface UncordonNode {
  readonly type: typeof NodeCommandType.UncordonNode;
  readonly nodeId: string;
  readonly now: number;
}

/** Declare a node gone (usually because {@link findLostNodes} found its heartbeats missing). */
export interface MarkNodeLost {
  readonly type: typeof NodeCommandType.MarkNodeLost;
  readonly nodeId: string;
  readonly reason: string;
  readonly now: number;
}

export type NodeCommand = RegisterNode | CordonNode | UncordonNode | MarkNodeLost;

/**
 * A liveness signal from an agent. Not a command of the aggregate and never an
 * event (heartbeats are telemetry): {@link applyHeartbeat} folds it into the projection.
 */
export interface Heartbeat {
  readonly type: "Heartbeat";
  readonly nodeId: string;
  readonly now: number;
}

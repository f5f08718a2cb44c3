import type { NodeCommandType } from "./node-commands.js";

/** Why a node command was refused. */
export const NodeRejectionCode = {
  /** The command names a node that never registered (gRPC NOT_FOUND). */
  UnknownNode: "UnknownNode",
  /** A field is malformed (gRPC INVALID_ARGUMENT). */
  InvalidCommand: "InvalidCommand",
  /** The node is Lost; its agent must register again first (gRPC FAILED_PRECONDITION). */
  NodeLost: "NodeLost",
  /** The command does not apply to the node as it is: a reclaim of an on-demand node, an uncordon while it is reclaimed (gRPC FAILED_PRECONDITION). */
  NotApplicable: "NotApplicable",
} as const;
export type NodeRejectionCode = (typeof NodeRejectionCode)[keyof typeof NodeRejectionCode];

/** A node command that the aggregate refuses. Never retryable as is. */
export class NodeCommandRejected extends Error {
  readonly code: NodeRejectionCode;
  readonly command: NodeCommandType;
  readonly nodeId: string;
  readonly reason: string;
  readonly retryable = false;
  constructor(fields: { code: NodeRejectionCode; command: NodeCommandType; nodeId: string; reason: string }) {
    super(`${fields.command} ${JSON.stringify(fields.nodeId)} rejected: ${fields.reason}`);
    this.name = "NodeCommandRejected";
    this.code = fields.code;
    this.command = fields.command;
    this.nodeId = fields.nodeId;
    this.reason = fields.reason;
  }
}

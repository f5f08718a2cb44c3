import { NotFoundError, PreconditionFailedError, ValidationError, type Decider, type DomainError } from "@eas/decider";
import {
  decideNode,
  evolveNode,
  NodeCommandRejected,
  NodeRejectionCode,
  type NodeCommand,
  type NodeEvent,
  type NodeState,
} from "../nodes/index.js";

/**
 * The Node aggregate (stream "node-<id>") as a {@link Decider} for `executeCommand`.
 * The state is the node alone, without allocations: those live on instance
 * streams, and no node command depends on them. Rejections become the
 * `@eas/decider` errors that service-kit maps to gRPC codes.
 */
export const nodeDecider: Decider<NodeCommand, NodeEvent, NodeState | undefined> = {
  initialState: () => undefined,
  evolve: (node, event) => evolveNode(node, event) ?? node,
  decide(command, node) {
    try {
      return decideNode(command, node);
    } catch (error) {
      throw error instanceof NodeCommandRejected ? toDomainError(error) : error;
    }
  },
};

/** Maps a node rejection onto the error family that has a gRPC status. */
export function toDomainError(rejection: NodeCommandRejected): DomainError {
  switch (rejection.code) {
    case NodeRejectionCode.UnknownNode:
      return new NotFoundError("node", rejection.nodeId);
    case NodeRejectionCode.InvalidCommand:
      return new ValidationError([{ path: "", message: rejection.message }]);
    case NodeRejectionCode.NodeLost:
      return new PreconditionFailedError(rejection.message, { cause: rejection });
  }
}

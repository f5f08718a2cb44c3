import { defineSubject, type Schema, type Subject } from "@eas/bus";

/** What an agent publishes every second on `eas.telemetry.heartbeat.<nodeId>`. */
export interface HeartbeatMessage {
  readonly nodeId: string;
  /** ISO time at the agent. Informational: liveness is judged on the scheduler's clock at receipt. */
  readonly at: string;
  /** Instances the agent is running. */
  readonly instances: number;
  /**
   * host:port of the agent's gRPC API, as it registered it. The scheduler takes a node's registered address as
   * current only once it has heard from the agent there in its own run (this, or a registration); optional
   * for agents from before it was added, whose heartbeats confirm no address.
   */
  readonly agentAddress?: string;
}

/** Thrown by {@link heartbeatSchema} for a body that is not a {@link HeartbeatMessage}. */
export class InvalidHeartbeatError extends Error {
  readonly field: string;
  constructor(field: string, message: string) {
    super(`invalid heartbeat: ${field} ${message}`);
    this.name = "InvalidHeartbeatError";
    this.field = field;
  }
}

/** Checks a heartbeat body (the bus drops and logs one that fails). */
export const heartbeatSchema: Schema<HeartbeatMessage> = {
  parse(input: unknown): HeartbeatMessage {
    if (typeof input !== "object" || input === null) throw new InvalidHeartbeatError("body", "must be a JSON object");
    const { nodeId, at, instances, agentAddress } = input as Record<string, unknown>;
    if (typeof nodeId !== "string" || nodeId === "") throw new InvalidHeartbeatError("nodeId", "must be a non-empty string");
    if (typeof at !== "string" || Number.isNaN(Date.parse(at))) throw new InvalidHeartbeatError("at", "must be an ISO time");
    if (typeof instances !== "number" || !Number.isInteger(instances) || instances < 0) {
      throw new InvalidHeartbeatError("instances", "must be a non-negative integer");
    }
    if (agentAddress !== undefined && (typeof agentAddress !== "string" || agentAddress === "")) {
      throw new InvalidHeartbeatError("agentAddress", "must be a non-empty string when given");
    }
    return agentAddress === undefined ? { nodeId, at, instances } : { nodeId, at, instances, agentAddress };
  },
};

/**
 * Agents' heartbeats: `eas.telemetry.heartbeat.<nodeId>`, plain NATS (telemetry,
 * never stored as events), untraced (one span per second per node is noise).
 * Publish with `bus.publish(heartbeatSubject.with(nodeId), beat)`; the
 * scheduler subscribes to the wildcard.
 */
export const heartbeatSubject: Subject<HeartbeatMessage> = defineSubject<HeartbeatMessage>("eas.telemetry.heartbeat.*", heartbeatSchema, {
  traced: false,
});

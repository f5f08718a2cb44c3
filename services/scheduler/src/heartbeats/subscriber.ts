import type { Bus, BusSubscription } from "@eas/bus";
import { heartbeatSubject } from "@eas/contracts";
import type { Logger } from "@eas/telemetry";
import type { HeartbeatTracker } from "./tracker.js";

/**
 * Records every agent heartbeat in `tracker`, timed by `now` (this process's
 * clock) at receipt. A heartbeat whose body names another node than its
 * subject is dropped: the subject is what the agent's permissions allow.
 */
export function subscribeToHeartbeats(deps: {
  bus: Bus;
  tracker: HeartbeatTracker;
  /** Epoch ms. */
  now: () => number;
  logger: Logger;
}): BusSubscription {
  const { tracker, logger } = deps;
  return deps.bus.subscribe(heartbeatSubject, (beat, { tokens: [subjectNodeId] }) => {
    if (beat.nodeId !== subjectNodeId) {
      logger.warn({ subject: subjectNodeId, body: beat.nodeId }, "heartbeat dropped: node id of body and subject differ");
      return;
    }
    tracker.record(beat.nodeId, deps.now(), beat.agentAddress);
  });
}

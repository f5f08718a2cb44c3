import { commonConfigSpec, envVar } from "@eas/service-kit";

/** Every environment variable the scheduler reads. */
export const schedulerConfigSpec = {
  ...commonConfigSpec({ grpcPort: 50052, httpPort: 9102 }),
  heartbeatTimeoutMs: envVar.int(
    "EAS_NODE_HEARTBEAT_TIMEOUT_MS",
    5000,
    "a node that sends no heartbeat for this long is marked Lost and its instances failed",
  ),
  lostNodeCheckIntervalMs: envVar.int("EAS_NODE_LOST_CHECK_INTERVAL_MS", 1000, "how often the scheduler looks for lost nodes"),
  fleetGraceMs: envVar.int(
    "EAS_PLACEMENT_FLEET_GRACE_MS",
    5000,
    "after a start, placements wait this long at most for the nodes the log knows as Ready to register again (about one heartbeat timeout; 0: no wait)",
  ),
};

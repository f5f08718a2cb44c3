import { commonConfigSpec, envVar } from "@eas/service-kit";

/** Every environment variable the autoscaler reads. */
export const autoscalerConfigSpec = {
  ...commonConfigSpec({ grpcPort: 50053, httpPort: 9103 }),
  deployerAddress: envVar.string(
    "EAS_DEPLOYER_ADDR",
    "127.0.0.1:50051",
    "the deployer's gRPC address: every scale goes through its ScaleService",
  ),
  leaseTtlMs: envVar.int(
    "EAS_AUTOSCALER_LEASE_TTL_MS",
    10_000,
    "the active autoscaler's lease in NATS KV expires this long after its last renewal; a standby takes over then",
  ),
  historySeconds: envVar.int("EAS_AUTOSCALER_HISTORY_S", 3_700, "seconds of per-second load kept per service (longest window + margin)"),
  cronCatchUpSeconds: envVar.int(
    "EAS_AUTOSCALER_CRON_CATCHUP_S",
    3_600,
    "a cron time missed while no autoscaler ran is run once at resume when it is at most this old, and recorded Skipped otherwise",
  ),
};

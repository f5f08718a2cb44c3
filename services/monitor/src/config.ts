import { commonConfigSpec, envVar } from "@eas/service-kit";
import { stressConfigSpec } from "./stress/config.js";

/** Every environment variable the monitor reads. */
export const monitorConfigSpec = {
  ...commonConfigSpec({ grpcPort: 50055, httpPort: 9105 }),
  finalizeDelayMs: envVar.int(
    "EAS_MONITOR_FINALIZE_DELAY_MS",
    500,
    "how long after a second ends the monitor closes it (the time gateways' and agents' samples have to arrive)",
  ),
  secondRetentionSeconds: envVar.int("EAS_MONITOR_SECOND_RETENTION_S", 3_600, "how long 1-second points are kept (JetStream max age)"),
  minuteRetentionDays: envVar.int("EAS_MONITOR_MINUTE_RETENTION_DAYS", 30, "how long 1-minute points are kept (JetStream max age)"),
  recentSeconds: envVar.int(
    "EAS_MONITOR_RECENT_S",
    120,
    "1-second points also kept in memory (queries within it skip JetStream); reloaded from JetStream at start",
  ),
  jetStreamReplicas: envVar.int("EAS_MONITOR_JETSTREAM_REPLICAS", 1, "replicas of the series streams (3 in a NATS cluster)"),
  webhookTimeoutMs: envVar.int("EAS_MONITOR_WEBHOOK_TIMEOUT_MS", 5_000, "longest wait for a webhook's answer, per attempt"),
  webhookAttempts: envVar.int("EAS_MONITOR_WEBHOOK_ATTEMPTS", 8, "attempts to post one alert transition before giving up"),
  webhookBackoffMs: envVar.int("EAS_MONITOR_WEBHOOK_BACKOFF_MS", 1_000, "first pause between webhook attempts; doubles up to 60 s"),
  ...stressConfigSpec,
};

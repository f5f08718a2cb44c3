import { commonConfigSpec, envVar } from "@eas/service-kit";

/** Every environment variable the async-queue reads. */
export const asyncQueueConfigSpec = {
  ...commonConfigSpec({ grpcPort: 50054, httpPort: 9104 }),
  ackWaitMs: envVar.int(
    "EAS_ASYNC_ACK_WAIT_MS",
    30_000,
    "how long JetStream waits before handing out again a request whose async-queue stopped answering for it",
  ),
  retryBaseMs: envVar.int("EAS_ASYNC_RETRY_BASE_MS", 1_000, "pause before the second attempt of a request; doubles with each failure"),
  retryMaxMs: envVar.int("EAS_ASYNC_RETRY_MAX_MS", 30_000, "longest pause between two attempts of a request"),
  deadLetterRetentionSeconds: envVar.int("EAS_ASYNC_DEAD_LETTER_RETENTION_SECONDS", 7 * 86_400, "how long dead letters are kept"),
  replicas: envVar.int("EAS_ASYNC_REPLICAS", 1, "replicas of the queues' JetStream streams (3 on a NATS cluster)"),
  stopGraceMs: envVar.int("EAS_ASYNC_STOP_GRACE_MS", 10_000, "how long a stop waits for running attempts before handing them back"),
  callbackAttempts: envVar.int("EAS_ASYNC_CALLBACK_ATTEMPTS", 5, "POSTs of a result to its callback URL before giving up"),
  callbackTimeoutMs: envVar.int("EAS_ASYNC_CALLBACK_TIMEOUT_MS", 10_000, "time a callback URL has to answer"),
  batchWindow: envVar.int("EAS_BATCH_WINDOW", 1_000, "lines of one batch job queued and not yet done at most"),
};

import { envVar } from "@eas/service-kit";

/** The variables the monitor's stress tests read (spread into the monitor's config spec). */
export const stressConfigSpec = {
  deployerAddress: envVar.string(
    "EAS_DEPLOYER_ADDR",
    "127.0.0.1:50051",
    "deployer gRPC address: stress tests read the service under test and run their load workers through it",
  ),
  gatewayUrl: envVar.string("EAS_GATEWAY_URL", "http://127.0.0.1:8080", "the gateway's URL, where stress tests send through the gateway"),
  stressWorkerNatsUrl: envVar.optional("EAS_STRESS_WORKER_NATS_URL", "NATS URL the load workers connect to; defaults to NATS_URL"),
  stressWorkerCpu: envVar.number("EAS_STRESS_WORKER_CPU", 1, "CPU cores each load worker instance asks for"),
  stressWorkerMemoryMib: envVar.int("EAS_STRESS_WORKER_MEMORY_MIB", 256, "memory each load worker instance asks for, in MiB"),
  stressWorkerStartTimeoutS: envVar.int(
    "EAS_STRESS_WORKER_START_TIMEOUT_S",
    120,
    "how long a task waits for all its load workers to be ready before it fails",
  ),
  stressMaxDurationS: envVar.int("EAS_STRESS_MAX_DURATION_S", 7_200, "longest base.duration a task may ask for, in seconds"),
  stressMaxQps: envVar.int("EAS_STRESS_MAX_QPS", 100_000, "highest rate (base.qps or optional.maxQPS) a task may ask for"),
  stressMaxAgentCount: envVar.int("EAS_STRESS_MAX_AGENT_COUNT", 32, "most load workers (base.agentCount) a task may ask for"),
};

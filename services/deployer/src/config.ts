import { commonConfigSpec, envVar } from "@eas/service-kit";

/** Every environment variable the deployer reads. */
export const deployerConfigSpec = {
  ...commonConfigSpec({ grpcPort: 50051, httpPort: 9101 }),
  gatewayUrl: envVar.string("EAS_GATEWAY_URL", "http://127.0.0.1:8080", "public URL of the gateway, shown as the service endpoint"),
  schedulerAddress: envVar.string("EAS_SCHEDULER_ADDR", "127.0.0.1:50052", "scheduler gRPC address"),
  rebalanceIntervalMs: envVar.int(
    "EAS_REBALANCE_INTERVAL_MS",
    5000,
    "time between two rebalance checks, each moving one replica at most to spread a service (0: never rebalance)",
  ),
};

import { commonConfigSpec, envVar } from "@eas/service-kit";

/** Every environment variable the deployer reads. */
export const deployerConfigSpec = {
  ...commonConfigSpec({ grpcPort: 50051, httpPort: 9101 }),
  gatewayUrl: envVar.string("EAS_GATEWAY_URL", "http://127.0.0.1:8080", "public URL of the gateway, shown as the service endpoint"),
  schedulerAddress: envVar.string("EAS_SCHEDULER_ADDR", "127.0.0.1:50052", "scheduler gRPC address"),
};

import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { AgentClient, SchedulerClient, ServiceManagerClient } from "@eas/proto";

export function serviceManager(endpoint: string): ServiceManagerClient {
  return new ServiceManagerClient(endpoint, credentials.createInsecure());
}

export function scheduler(endpoint: string): SchedulerClient {
  return new SchedulerClient(endpoint, credentials.createInsecure());
}

export function agent(address: string): AgentClient {
  return new AgentClient(address, credentials.createInsecure());
}

export class CliError extends Error {}

/** One line for a gRPC failure: "INVALID_ARGUMENT: metadata.cpu: must be > 0". */
export function describeError(error: unknown, endpoint: string): string {
  const grpcError = error as Partial<ServiceError>;
  if (typeof grpcError.code === "number") {
    if (grpcError.code === status.UNAVAILABLE) {
      return `cannot reach EAS at ${endpoint} (is the local cluster running? \`pnpm cluster\`): ${grpcError.details ?? ""}`;
    }
    return `${status[grpcError.code]}: ${grpcError.details ?? grpcError.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

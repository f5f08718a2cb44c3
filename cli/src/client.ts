import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { AgentClient, SchedulerClient, ServiceManagerClient, unaryCall } from "@eas/proto";

export function serviceManager(endpoint: string): ServiceManagerClient {
  return new ServiceManagerClient(endpoint, credentials.createInsecure());
}

export function scheduler(endpoint: string): SchedulerClient {
  return new SchedulerClient(endpoint, credentials.createInsecure());
}

/** The current agent address of every node that is not Lost, by node id (none for an agent not back after a restart). */
export async function agentAddresses(schedulerEndpoint: string): Promise<Map<string, string>> {
  const s = scheduler(schedulerEndpoint);
  try {
    const { nodes } = await unaryCall(s, s.listNodes, {});
    return new Map(nodes.filter((n) => n.status !== "Lost" && n.agentConnected && n.agentAddress).map((n) => [n.nodeId, n.agentAddress]));
  } finally {
    s.close();
  }
}

/** Runs `call` with a client of the agent at `address`, closed afterwards. */
export async function withAgent<T>(address: string, call: (agent: AgentClient) => Promise<T>): Promise<T> {
  const client = new AgentClient(address, credentials.createInsecure());
  try {
    return await call(client);
  } finally {
    client.close();
  }
}

export class CliError extends Error {}

/** One line for a gRPC failure: "INVALID_ARGUMENT: metadata.cpu: must be > 0". */
export function describeError(error: unknown, endpoint: string): string {
  const grpcError = error as Partial<ServiceError>;
  if (typeof grpcError.code === "number") {
    if (grpcError.code === status.UNAVAILABLE) {
      return `cannot reach EAS at ${endpoint} (is the local cluster running? \`bash scripts/up.sh\` starts it): ${grpcError.details ?? ""}`;
    }
    return `${status[grpcError.code]}: ${grpcError.details ?? grpcError.message}`;
  }
  return error instanceof Error ? error.message : String(error);
}

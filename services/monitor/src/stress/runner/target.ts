import type { ServiceInfo, StressTarget, StressTaskSpec } from "@eas/proto";
import type { DeployerPort } from "./deployer-client.js";

/** The task's secrets, held in memory only. */
export interface TaskSecrets {
  token: string | undefined;
  headers: Record<string, string>;
}

/** The worker service's document: `agentCount` instances of the loadgen processor, pointed at this task. */
export function workerServiceSpec(
  taskId: string,
  workerService: string,
  spec: StressTaskSpec,
  context: { workerNatsUrl: string; workerCpu: number; workerMemoryMib: number },
): string {
  return JSON.stringify({
    name: workerService,
    metadata: { instance: spec.agentCount, cpu: context.workerCpu, memory: context.workerMemoryMib },
    processor: "loadgen",
    processor_config: { task: taskId, nats_url: context.workerNatsUrl },
    labels: { "eas.stress/task": taskId, "eas.stress/target": spec.serviceName },
  });
}

/**
 * Where the workers send, read from the deployer when the load is about to start: the gateway's URL of the
 * service (or its Ready instances, direct), and the token: the task's own, else the service's.
 */
export async function resolveTarget(
  deployer: DeployerPort,
  spec: StressTaskSpec,
  secrets: TaskSecrets,
  gatewayUrl: string,
): Promise<StressTarget> {
  const service: ServiceInfo | undefined = await deployer.getService(spec.serviceName);
  if (!service) throw new Error(`service "${spec.serviceName}" no longer exists`);
  const path = spec.requestPath;
  const urls =
    spec.endpointType === "direct"
      ? service.instances.filter((i) => i.status === "Ready" && i.endpoint).map((i) => `http://${i.endpoint}${path}`)
      : [`${gatewayUrl.replace(/\/+$/, "")}/api/predict/${service.name}${path}`];
  if (urls.length === 0) throw new Error(`service "${service.name}" has no Ready instance to reach directly`);
  const authorization = secrets.headers.authorization ?? secrets.token ?? service.token;
  return {
    urls,
    method: spec.method,
    headers: { ...spec.headers, ...(authorization ? { authorization } : {}) },
    timeoutMs: spec.timeoutMs,
    dataUrl: spec.data?.objectUrl ?? "",
    binary: spec.data?.type === "binary",
    multiLine: spec.data?.multiLine ?? false,
    connections: spec.concurrency,
  };
}

import { NotFoundError, ValidationError } from "@eas/decider";
import type { AgentServer } from "@eas/proto";
import { unary } from "@eas/service-kit";
import type { Logger } from "@eas/telemetry";
import type { InstanceSupervisor } from "../instances/supervisor.js";

const DEFAULT_LOG_LINES = 100;
/** The process driver keeps this many lines per instance in memory. */
const MAX_LOG_LINES = 1000;

/** The Agent gRPC API: the deployer starts and stops instances on this node through it. */
export function createAgentApi(supervisor: InstanceSupervisor, logger: Logger): AgentServer {
  return {
    // The supervisor validates the request (INVALID_ARGUMENT naming the field) before it starts anything.
    startInstance: unary(logger, async (request) => supervisor.start(request.instanceId, request.service, request.version, request.spec)),
    // NOT_FOUND for an instance this agent does not run: the deployer's reconciler then records it Stopped.
    stopInstance: unary(logger, async (request) => {
      if (!request.instanceId) throw new ValidationError([{ path: "instance_id", message: "is required" }]);
      const stopped = await supervisor.stop(request.instanceId, request.gracePeriodMs || 10_000);
      if (!stopped) throw new NotFoundError("instance", request.instanceId);
      return stopped;
    }),
    instanceLogs: unary(logger, async (request) => {
      if (!request.instanceId) throw new ValidationError([{ path: "instance_id", message: "is required" }]);
      if (request.lines > MAX_LOG_LINES) throw new ValidationError([{ path: "lines", message: `must be at most ${MAX_LOG_LINES}` }]);
      const lines = supervisor.logs(request.instanceId, request.lines || DEFAULT_LOG_LINES);
      if (!lines) throw new NotFoundError("instance", request.instanceId);
      return { lines: lines.map((line) => ({ stream: line.stream, text: line.text, at: new Date(line.at).toISOString() })) };
    }),
    listInstances: unary(logger, async () => {
      const stats = new Map((await supervisor.stats()).map((row) => [row.instanceId, row]));
      return {
        instances: supervisor.list().map((instance) => ({
          ...instance,
          cpuPercent: stats.get(instance.instanceId)?.cpuPercent ?? 0,
          memoryBytes: stats.get(instance.instanceId)?.memoryBytes ?? 0,
        })),
      };
    }),
  };
}

import { InstanceCommandType, type InstanceCommand } from "@eas/instance-lifecycle";
import { InstanceStatus, type InstanceStatusEvent } from "../runtime/index.js";

/** What a report needs to know about the instance besides the status change itself. */
export interface ReportedInstance {
  instanceId: string;
  service: string;
  version: number;
  /** `host:port` it serves on; empty before it started. */
  endpoint: string;
}

/** The lifecycle command that reports `status` of an instance this agent (`nodeId`) runs. */
export function reportCommand(instance: ReportedInstance, nodeId: string, status: InstanceStatusEvent): InstanceCommand {
  const now = new Date(status.at).toISOString();
  const { instanceId, service } = instance;
  const reason = status.reason ?? "";
  switch (status.status) {
    case InstanceStatus.Starting:
      return { type: InstanceCommandType.ReportStarting, instanceId, service, nodeId, restartCount: status.restartCount, now };
    case InstanceStatus.Ready:
      return {
        type: InstanceCommandType.ReportReady,
        instanceId,
        service,
        version: instance.version,
        nodeId,
        endpoint: instance.endpoint,
        now,
      };
    case InstanceStatus.Unhealthy:
      return { type: InstanceCommandType.ReportUnhealthy, instanceId, service, reason, now };
    case InstanceStatus.Exited:
      return {
        type: InstanceCommandType.ReportExited,
        instanceId,
        service,
        exitCode: status.exitCode ?? -1,
        signal: status.signal ?? "",
        reason,
        restartCount: status.restartCount,
        now,
      };
    case InstanceStatus.Stopped:
      return { type: InstanceCommandType.ReportStopped, instanceId, service, nodeId, reason: reason || "stopped", now };
    case InstanceStatus.Failed:
      return { type: InstanceCommandType.FailInstance, instanceId, service, reason, now };
  }
}

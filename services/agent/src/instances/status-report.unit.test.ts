import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InstanceCommandType } from "@eas/instance-lifecycle";
import { InstanceStatus, type InstanceStatusEvent } from "../runtime/index.js";
import { reportCommand } from "./status-report.js";

const AT = Date.parse("2026-05-01T12:00:00.000Z");
const INSTANCE = { instanceId: "i-1", service: "iris", version: 3, endpoint: "127.0.0.1:9001" };
const base = { instanceId: "i-1", service: "iris", now: "2026-05-01T12:00:00.000Z" };

describe("reportCommand", () => {
  const rows: [string, Omit<InstanceStatusEvent, "at">, object][] = [
    [
      "Starting carries the node and the restart count",
      { status: InstanceStatus.Starting, restartCount: 2 },
      { ...base, type: InstanceCommandType.ReportStarting, nodeId: "n1", restartCount: 2 },
    ],
    [
      "Ready carries the version and the endpoint",
      { status: InstanceStatus.Ready, restartCount: 0 },
      { ...base, type: InstanceCommandType.ReportReady, version: 3, nodeId: "n1", endpoint: "127.0.0.1:9001" },
    ],
    [
      "Unhealthy carries the reason",
      { status: InstanceStatus.Unhealthy, reason: "liveness failed", restartCount: 0 },
      { ...base, type: InstanceCommandType.ReportUnhealthy, reason: "liveness failed" },
    ],
    [
      "Exited without a code or signal reports -1 and no signal",
      { status: InstanceStatus.Exited, reason: "crashed", exitCode: null, signal: null, restartCount: 1 },
      { ...base, type: InstanceCommandType.ReportExited, exitCode: -1, signal: "", reason: "crashed", restartCount: 1 },
    ],
    [
      "Stopped without a reason says stopped",
      { status: InstanceStatus.Stopped, restartCount: 0 },
      { ...base, type: InstanceCommandType.ReportStopped, nodeId: "n1", reason: "stopped" },
    ],
    [
      "Failed becomes FailInstance",
      { status: InstanceStatus.Failed, reason: "no such model", restartCount: 0 },
      { ...base, type: InstanceCommandType.FailInstance, reason: "no such model" },
    ],
  ];
  for (const [name, status, expected] of rows) {
    it(name, () => {
      assert.deepEqual(reportCommand(INSTANCE, "n1", { ...status, at: AT }), expected);
    });
  }
});

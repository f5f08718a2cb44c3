import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { InstanceInfo, NodeInfo, ServiceInfo } from "@eas/proto";
import { InvalidArgumentError } from "commander";
import {
  classCounts,
  concernsService,
  describeService,
  eventLine,
  formatLogs,
  instanceClass,
  nodesTable,
  progressLine,
  table,
  usageTable,
} from "./format.js";
import { duration } from "./options.js";

function serviceInfo(overrides: Partial<ServiceInfo> = {}): ServiceInfo {
  return {
    name: "iris",
    status: "Running",
    reason: "",
    currentVersion: 2,
    latestVersion: 3,
    desiredInstances: 2,
    runningInstances: 2,
    pendingInstances: 0,
    totalInstances: 2,
    endpoint: "http://127.0.0.1:8080/api/predict/iris",
    token: "secret-token",
    specJson: "{}",
    createdAt: "2026-11-30T10:00:00.000Z",
    updatedAt: "2026-11-30T11:00:00.000Z",
    instances: [],
    warnings: [],
    placementWarnings: [],
    lastScale: undefined,
    autoscaling: "",
    ...overrides,
  };
}

describe("progressLine", () => {
  const rows: { name: string; info: Partial<ServiceInfo>; expected: string }[] = [
    {
      name: "a converging deploy, as EASCMD prints it",
      info: { status: "Waiting", totalInstances: 2, pendingInstances: 1, runningInstances: 1 },
      expected: "Waiting [Total: 2, Pending: 1, Running: 1]",
    },
    {
      name: "a blocked deploy carries its reason",
      info: { status: "Waiting", totalInstances: 3, pendingInstances: 3, runningInstances: 0, reason: "0/3 nodes: 3 insufficient memory" },
      expected: "Waiting [Total: 3, Pending: 3, Running: 0] 0/3 nodes: 3 insufficient memory",
    },
    {
      name: "a stopped service",
      info: { status: "Stopped", totalInstances: 0, runningInstances: 0 },
      expected: "Stopped [Total: 0, Pending: 0, Running: 0]",
    },
  ];
  for (const row of rows) {
    it(row.name, () => assert.equal(progressLine(serviceInfo(row.info)), row.expected));
  }
});

describe("describeService", () => {
  it("shows status with its reason, versions, instance counts, endpoint and token", () => {
    const text = describeService(serviceInfo({ status: "Failed", reason: "crash loop", runningInstances: 1, pendingInstances: 1 }));
    for (const expected of [
      "Failed (crash loop)",
      "1/2 running, 1 pending, 2 total",
      "secret-token",
      "http://127.0.0.1:8080/api/predict/iris",
    ]) {
      assert.ok(text.includes(expected), `missing ${expected} in\n${text}`);
    }
    assert.match(text, /CurrentVersion\s*│\s*2/);
    assert.match(text, /LatestVersion\s*│\s*3/);
    assert.ok(!text.includes("Instance "), "no instance table without instances");
  });

  it("adds one row per instance with node, status, restarts and reason", () => {
    const text = describeService(
      serviceInfo({
        instances: [
          {
            instanceId: "iris-v2-aaaaaa",
            version: 2,
            nodeId: "node-1",
            status: "Ready",
            endpoint: "127.0.0.1:4000",
            restartCount: 0,
            reason: "",
            pool: "public",
            spot: false,
            moving: "",
          },
          {
            instanceId: "iris-v2-bbbbbb",
            version: 2,
            nodeId: "node-2",
            status: "Unhealthy",
            endpoint: "127.0.0.1:4001",
            restartCount: 3,
            reason: "liveness failed",
            pool: "public",
            spot: false,
            moving: "",
          },
        ],
      }),
    );
    const rows = text.split("\n").filter((line) => line.includes("iris-v2-"));
    assert.equal(rows.length, 2);
    assert.match(rows[1]!, /node-2.*Unhealthy.*127\.0\.0\.1:4001.*3.*liveness failed/);
  });
});

describe("describeService: where instances run", () => {
  const instance = (instanceId: string, pool: string, spot: boolean, moving = ""): InstanceInfo => ({
    instanceId,
    version: 1,
    nodeId: "n1",
    status: "Ready",
    endpoint: "127.0.0.1:1",
    restartCount: 0,
    reason: "",
    pool,
    spot,
    moving,
  });

  it("shows each instance's class, the counts by class, a move's reason and the warnings", () => {
    const text = describeService(
      serviceInfo({
        instances: [
          instance("a", "dedicated", false),
          instance("b", "dedicated", false),
          instance("c", "public", true, "reclaim: spot node n1 is reclaimed at 2026-12-01T10:00:30.000Z"),
        ],
        placementWarnings: ["all 3 replicas run on node n1: losing it stops the service"],
      }),
    );
    assert.match(text, /│ Class\s+│/);
    assert.match(text, /│ public spot\s+│/);
    assert.match(text, /moving \(reclaim: spot node n1 is reclaimed/);
    assert.match(text, /By class: 2 dedicated, 1 public spot/);
    assert.match(text, /Warning: all 3 replicas run on node n1: losing it stops the service/);
  });

  it("names classes the EAS way", () => {
    assert.equal(instanceClass({ pool: "dedicated", spot: false }), "dedicated");
    assert.equal(instanceClass({ pool: "", spot: true }), "public spot");
    assert.equal(classCounts([]), "");
  });
});

describe("nodesTable", () => {
  it("shows the instance type and a reclaim deadline", () => {
    const node: NodeInfo = {
      nodeId: "spot-1",
      capacity: { cpuMillis: 4000, memoryMib: 8192, gpu: 0, gpuType: "", gpuMemoryGib: 0 },
      allocated: { cpuMillis: 500, memoryMib: 64, gpu: 0, gpuType: "", gpuMemoryGib: 0 },
      resourceGroup: "",
      spot: true,
      pricePerHour: 0.2,
      agentAddress: "127.0.0.1:7000",
      status: "Reclaiming",
      instanceCount: 1,
      lastHeartbeat: "2026-12-01T10:00:00.000Z",
      instanceType: "ecs.g7.large",
      reclaimDeadline: "2026-12-01T10:00:30.000Z",
      statusReason: "reclaim notice",
      agentConnected: true,
      rates: { cpuCoreHourMicros: 12_000, memoryGibHourMicros: 1_500, gpuHourMicros: 0 },
    };
    const text = nodesTable([node]);
    assert.match(text, /spot-1\s+│ Reclaiming\s+│ public\s+│ yes\s+│ ecs\.g7\.large/);
    assert.match(text, /reclaimed at 2026-12-01T10:00:30\.000Z/);
  });
});

describe("duration (eas nodes reclaim --in)", () => {
  const rows: [string, number][] = [
    ["30s", 30_000],
    ["1500ms", 1_500],
    ["2m", 120_000],
    ["45", 45_000],
    ["0.5s", 500],
  ];
  for (const [text, ms] of rows) it(`${text} is ${ms} ms`, () => assert.equal(duration(text), ms));
  for (const bad of ["0s", "-3s", "soon", "3h", ""]) {
    it(`refuses ${JSON.stringify(bad)}`, () => assert.throws(() => duration(bad), InvalidArgumentError));
  }
});

describe("table", () => {
  it("renders every cell, numbers included", () => {
    const text = table(
      ["Name", "Running"],
      [
        ["echo", 3],
        ["iris", 0],
      ],
    );
    assert.match(text, /echo\s*│\s*3/);
    assert.match(text, /iris\s*│\s*0/);
  });
});

describe("usageTable", () => {
  it("shows CPU in percent with one decimal and memory in MiB", () => {
    const text = usageTable([
      {
        instanceId: "iris-v1-aaaaaa",
        service: "iris",
        nodeId: "node-1",
        status: "Ready",
        cpuPercent: 12.345,
        memoryBytes: 64 * 1024 * 1024,
      },
    ]);
    assert.match(text, /iris-v1-aaaaaa\s*│\s*iris\s*│\s*node-1\s*│\s*Ready\s*│\s*12\.3\s*│\s*64\.0/);
  });
});

describe("formatLogs", () => {
  const line = (text: string, stream = "stdout") => ({ stream, text, at: "2026-11-30T12:00:00.000Z" });

  it("prints one instance's lines as they are", () => {
    assert.equal(formatLogs([{ instanceId: "a", lines: [line("booting"), line("oops", "stderr")] }]), "booting\noops");
  });

  it("prefixes each line with its instance when there are several, and says why one has none", () => {
    const text = formatLogs([
      { instanceId: "iris-v1-a", lines: [line("listening")] },
      { instanceId: "iris-v1-b", lines: [], error: "UNAVAILABLE: connection refused" },
    ]);
    assert.equal(text, "[iris-v1-a] listening\n[iris-v1-b] (no logs: UNAVAILABLE: connection refused)");
  });
});

describe("events", () => {
  const record = { position: 42, time: "2026-11-30T12:00:00.000Z", type: "eas.v1.InstanceExited", stream: "instance-iris-v2-abc" };

  it("a line shows position, time, type, stream and the fields worth a glance", () => {
    const line = eventLine(record, {
      instanceId: "iris-v2-abc",
      service: "iris",
      exitCode: 1,
      reason: "process exited with code 1",
      restartCount: 0,
    });
    assert.equal(
      line,
      `    42  2026-11-30T12:00:00.000Z  ${"eas.v1.InstanceExited".padEnd(32)} instance-iris-v2-abc  exitCode=1 reason=process exited with code 1`,
    );
  });

  it("a line without glance fields ends with the stream", () => {
    assert.ok(eventLine(record, { instanceId: "x", service: "iris" }).endsWith("instance-iris-v2-abc"));
  });

  const rows: [string, Record<string, unknown>, boolean][] = [
    ["a service's own event", { name: "iris", token: "t" }, true],
    ["an instance event of the service", { instanceId: "iris-v1-a", service: "iris" }, true],
    ["another service", { name: "echo" }, false],
    ["a node event", { nodeId: "node-1" }, false],
  ];
  for (const [name, data, expected] of rows) it(`--service iris: ${name}`, () => assert.equal(concernsService(data, "iris"), expected));
});

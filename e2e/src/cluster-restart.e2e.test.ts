import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, afterEach, describe, it } from "node:test";
import { credentials } from "@grpc/grpc-js";
import { SchedulerClient, type NodeInfo, type ServiceInfo } from "@eas/proto";
import { waitFor } from "@eas/testing";
import { readEvents, startTestCluster, unaryCall, type TestCluster } from "./cluster-harness.js";

const spec = JSON.stringify({ name: "survivor", metadata: { instance: 2, cpu: 0.5, memory: 128 }, processor: "echo" });

async function runningInfo(t: TestCluster): Promise<ServiceInfo> {
  return waitFor(
    "survivor Running with 2 Ready instances",
    async () => {
      const info = await unaryCall(t.client, t.client.getService, { name: "survivor" });
      return info.status === "Running" && info.runningInstances === 2 ? info : undefined;
    },
    { timeoutMs: 60_000, intervalMs: 200 },
  );
}

async function listNodes(t: TestCluster): Promise<NodeInfo[]> {
  const scheduler = new SchedulerClient(t.cluster.schedulerAddress, credentials.createInsecure());
  try {
    return (await unaryCall(scheduler, scheduler.listNodes, {})).nodes;
  } finally {
    scheduler.close();
  }
}

async function predict(t: TestCluster, info: ServiceInfo): Promise<number> {
  const response = await fetch(`${t.cluster.gatewayUrl}/api/predict/survivor`, {
    method: "POST",
    headers: { Authorization: info.token },
    body: JSON.stringify({ hello: "again" }),
  });
  await response.arrayBuffer();
  return response.status;
}

describe("the local cluster keeps its state across a restart", { timeout: 300_000 }, () => {
  let first: TestCluster | undefined;
  let second: TestCluster | undefined;
  const dataDirs: string[] = [];

  /** Each test runs a first cluster, stops it (or crashes it), then a second one over the same folder. */
  afterEach(async () => {
    await first?.stopKeepingData();
    await second?.stopKeepingData();
    first = second = undefined;
  });
  after(() => {
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  it("a service created before the restart is still there with its token and versions, and serves again from the agents of this run", async () => {
    first = await startTestCluster([{ nodeId: "node-1" }, { nodeId: "node-2" }]);
    dataDirs.push(first.dataDir);
    await unaryCall(first.client, first.client.createService, { spec });
    await unaryCall(first.client, first.client.updateService, {
      name: "survivor",
      spec: JSON.stringify({ processor_config: { latency_ms: 1 } }),
      updateType: "merge",
    });
    const before = await runningInfo(first);
    assert.equal(before.currentVersion, 2);
    assert.equal(await predict(first, before), 200);
    const eventsBefore = await readEvents(first.client);
    const dataDir = first.dataDir;
    await first.stopKeepingData();
    first = undefined;

    // node-1's agent is not back (yet): the log still holds its address of the first run, where nobody listens.
    second = await startTestCluster([{ nodeId: "node-2" }], 90_000, dataDir);
    // The log is the same log: every event from before is still there, in order.
    const eventsAfter = await readEvents(second.client);
    assert.deepEqual(
      eventsAfter.slice(0, eventsBefore.length).map((e) => [e.position, e.type, e.stream]),
      eventsBefore.map((e) => [e.position, e.type, e.stream]),
    );
    const after = await runningInfo(second);
    assert.equal(after.token, before.token, "the token is kept");
    assert.equal(after.currentVersion, 2);
    const versions = await unaryCall(second.client, second.client.listVersions, { name: "survivor" });
    assert.deepEqual(
      versions.versions.map((v) => v.version),
      [1, 2],
    );
    // The instances of the first run were stopped with it; the reconciler created fresh ones, no more than desired.
    const beforeIds = new Set(before.instances.map((i) => i.instanceId));
    assert.equal(after.instances.filter((i) => i.status === "Ready").length, 2);
    assert.ok(
      after.instances.every((i) => !beforeIds.has(i.instanceId)),
      "no instance of the first run is counted as running",
    );
    assert.equal(await predict(second, after), 200);
    // Placed only where an agent listens in this run: nothing went to node-1's address of the first run.
    const placedAfter = (await readEvents(second.client, eventsBefore.at(-1)!.position, "eas.v1.InstanceScheduled")).map(
      (e) => (JSON.parse(e.dataJson) as { nodeId: string }).nodeId,
    );
    assert.deepEqual(new Set(placedAfter), new Set(["node-2"]));
    assert.ok(
      !second.logs.some((line) => line.includes("reconcile action failed")),
      second.logs.filter((line) => line.includes("reconcile action failed")).join("\n"),
    );
    const nodes = await listNodes(second);
    assert.deepEqual(
      nodes.map((n) => [n.nodeId, n.agentConnected]),
      [
        ["node-1", false],
        ["node-2", true],
      ],
    );
  });

  it("after every process was killed with SIGKILL, the agents report the lost instances and the service is replaced", async () => {
    const crashed = await startTestCluster([{ nodeId: "node-1" }, { nodeId: "node-2" }]);
    first = crashed;
    dataDirs.push(crashed.dataDir);
    await unaryCall(crashed.client, crashed.client.createService, { spec });
    const before = await runningInfo(crashed);
    // A crash of the whole machine's EAS processes: nothing gets to stop an instance or write an event.
    await Promise.all([...crashed.cluster.services.keys()].map((name) => crashed.cluster.kill(name, "SIGKILL")));
    await crashed.stopKeepingData();
    first = undefined;

    second = await startTestCluster([{ nodeId: "node-1" }, { nodeId: "node-2" }], 90_000, crashed.dataDir);
    for (const instance of before.instances) {
      await waitFor(
        `${instance.instanceId} reported Failed by its restarted agent`,
        async () => {
          const events = await readEvents(second!.client, 0, "eas.v1.InstanceFailed");
          return events.some((e) => e.stream === `instance-${instance.instanceId}` && e.dataJson.includes("restarted"));
        },
        { timeoutMs: 30_000, intervalMs: 200 },
      );
    }
    const after = await runningInfo(second);
    assert.equal(after.token, before.token);
    const beforeIds = new Set(before.instances.map((i) => i.instanceId));
    assert.ok(
      after.instances.every((i) => !beforeIds.has(i.instanceId)),
      "the lost instances were replaced, not counted",
    );
    assert.equal(await predict(second, after), 200);
  });
});

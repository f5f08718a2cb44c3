import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectBus, type Bus } from "@eas/bus";
import { heartbeatSubject } from "@eas/contracts";
import { decodeEvent, instanceStream, nodeStream } from "@eas/events";
import type { PlaceInstanceResponse } from "@eas/proto";
import { createLogger } from "@eas/telemetry";
import { startNatsServer, waitFor, type NatsServerHandle } from "@eas/testing";
import { registration, resources, startSchedulerFixture, type SchedulerFixture } from "../testing/scheduler-fixture.js";

const HEARTBEAT_TIMEOUT_MS = 600;

let nats: NatsServerHandle;
let agentBus: Bus;
let schedulerBus: Bus;
let scheduler: SchedulerFixture;

before(async () => {
  nats = await startNatsServer();
  const logger = createLogger({ name: "bus", level: "silent" });
  agentBus = await connectBus({ servers: nats.url, name: "agent-test", logger });
  schedulerBus = await connectBus({ servers: nats.url, name: "scheduler-test", logger });
  scheduler = await startSchedulerFixture(schedulerBus, {
    natsUrl: nats.url,
    lostNodes: { heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS, intervalMs: 100 },
  });
});
after(async () => {
  await scheduler?.stop();
  await agentBus?.drain();
  await schedulerBus?.drain();
  await nats?.stop();
});

describe("lost-node detection", () => {
  it("marks a node that stops heartbeating Lost and its instances Lost (not ended); a heartbeating node stays Ready", async () => {
    const { calls, store } = scheduler;
    const beat = (nodeId: string) => () =>
      agentBus.publish(heartbeatSubject.with(nodeId), { nodeId, at: new Date().toISOString(), instances: 2 });
    const alive = setInterval(beat("alive"), 100);
    // "silent" heartbeats too until its instances are placed, so a slow machine cannot lose it early.
    const silent = setInterval(beat("silent"), 100);
    try {
      await calls.registerNode(registration("alive"));
      await calls.registerNode(registration("silent"));
      const placements: PlaceInstanceResponse[] = [];
      for (const instanceId of ["lost-1", "lost-2", "lost-3", "lost-4"]) {
        placements.push(
          await calls.placeInstance({
            instanceId,
            service: "svc",
            version: 1,
            resources: resources({ cpuMillis: 500 }),
            resourceGroup: "",
            resourceBurstable: false,
            spotAllowed: false,
            maxSpotPrice: 0,
            instanceTypes: [],
          }),
        );
      }
      clearInterval(silent);
      assert.equal(placements.filter((p) => p.nodeId === "silent").length, 2, "spread puts two replicas on each node");

      const nodes = await waitFor(
        "node silent to be Lost with its instances marked Lost",
        async () => {
          // NodeLost is appended before the InstanceLost events of its instances: wait for both.
          const listed = await calls.listNodes();
          const silentNode = listed.find((node) => node.nodeId === "silent");
          const marked = placements
            .flatMap((p, index) => (p.nodeId === "silent" ? [`lost-${index + 1}`] : []))
            .every((id) => scheduler.cluster.state.instances.get(id)?.phase === "Lost");
          return silentNode?.status === "Lost" && marked ? listed : undefined;
        },
        { timeoutMs: 10_000 },
      );
      assert.equal(nodes.find((node) => node.nodeId === "alive")?.status, "Ready");
      assert.equal(nodes.find((node) => node.nodeId === "silent")?.instanceCount, 2, "its instances keep their place until they end");

      const lost = decodeEvent((await store.readStream(nodeStream("silent"))).at(-1)!);
      assert.equal(lost?.type, "eas.v1.NodeLost");
      assert.deepEqual(await typesOf(store, nodeStream("alive")), ["eas.v1.NodeRegistered"]);

      for (const [index, placement] of placements.entries()) {
        const types = await typesOf(store, instanceStream(`lost-${index + 1}`));
        if (placement.nodeId === "alive") {
          assert.deepEqual(types, ["eas.v1.InstanceScheduled"], `lost-${index + 1} on the live node is untouched`);
          continue;
        }
        assert.deepEqual(types, ["eas.v1.InstanceScheduled", "eas.v1.InstanceLost"]);
        const lost = decodeEvent((await store.readStream(instanceStream(`lost-${index + 1}`)))[1]!);
        assert.deepEqual(lost?.type === "eas.v1.InstanceLost" && [lost.data.reason, lost.data.service, lost.data.nodeId], [
          "node silent lost",
          "svc",
          "silent",
        ]);
      }

      // Further checks write nothing more: NodeLost and InstanceLost are written once.
      const again = await scheduler.monitor?.check();
      assert.deepEqual([again?.lostNodes, again?.lostInstances], [[], []]);
      assert.equal((await typesOf(store, nodeStream("silent"))).filter((t) => t === "eas.v1.NodeLost").length, 1);

      // The agent comes back: a registration makes the node Ready again.
      const back = await calls.registerNode(registration("silent"));
      assert.equal(back.status, "Ready");
      const check = await scheduler.monitor?.check();
      assert.deepEqual(check?.lostNodes, [], "a fresh registration restarts the heartbeat clock");
    } finally {
      clearInterval(alive);
      clearInterval(silent);
    }
  });

  it("at a reclaim's deadline, marks the node Reclaimed (at the deadline) and fails what is still on it", async () => {
    const { calls, store } = scheduler;
    const beat = () => agentBus.publish(heartbeatSubject.with("spot-r"), { nodeId: "spot-r", at: new Date().toISOString(), instances: 1 });
    const alive = setInterval(beat, 100);
    try {
      await calls.registerNode(registration("spot-r", { spot: true, pricePerHour: 0.1 }));
      const placed = await calls.placeInstance({
        instanceId: "doomed-1",
        service: "svc",
        version: 1,
        resources: resources({ cpuMillis: 100 }),
        resourceGroup: "",
        resourceBurstable: false,
        spotAllowed: true,
        maxSpotPrice: 0,
        instanceTypes: [],
      });
      assert.equal(placed.nodeId, "spot-r");
      const noticed = await calls.reclaimNode({ nodeId: "spot-r", noticeMs: 800, reason: "test" });
      await waitFor(
        "doomed-1 failed by the reclaim",
        async () => (await typesOf(store, instanceStream("doomed-1"))).includes("eas.v1.InstanceFailed"),
        { timeoutMs: 10_000 },
      );
      assert.deepEqual(await typesOf(store, instanceStream("doomed-1")), [
        "eas.v1.InstanceScheduled",
        "eas.v1.InstanceMoveRequested",
        "eas.v1.InstanceFailed",
      ]);
      const [reclaimed] = (await store.readStream(nodeStream("spot-r"))).slice(-1).map(decodeEvent);
      assert.deepEqual(
        reclaimed?.type === "eas.v1.NodeReclaimed" && reclaimed.data.at,
        noticed.reclaimDeadline,
        "billed until the deadline",
      );
      const failed = decodeEvent((await store.readStream(instanceStream("doomed-1"))).at(-1)!);
      assert.deepEqual(failed?.type === "eas.v1.InstanceFailed" && [failed.data.reason, failed.data.at], [
        "node spot-r reclaimed",
        noticed.reclaimDeadline,
      ]);
      // Heartbeats of a reclaimed node change nothing: it is not marked Lost, and takes nothing.
      await scheduler.monitor?.check();
      assert.equal((await calls.listNodes()).find((n) => n.nodeId === "spot-r")?.status, "Reclaimed");
    } finally {
      clearInterval(alive);
    }
  });

  it("drops heartbeats whose body names another node than the subject", async () => {
    agentBus.publish(heartbeatSubject.with("n-subject"), { nodeId: "n-body", at: new Date().toISOString(), instances: 0 });
    agentBus.publish(heartbeatSubject.with("n-ok"), { nodeId: "n-ok", at: new Date().toISOString(), instances: 0 });
    await agentBus.flush();
    await waitFor("heartbeat of n-ok", () => scheduler.heartbeats.lastSeen("n-ok") !== undefined, { timeoutMs: 5000 });
    assert.equal(scheduler.heartbeats.lastSeen("n-body"), undefined);
    assert.equal(scheduler.heartbeats.lastSeen("n-subject"), undefined);
  });
});

async function typesOf(store: SchedulerFixture["store"], stream: string): Promise<string[]> {
  return (await store.readStream(stream)).map((event) => event.type);
}

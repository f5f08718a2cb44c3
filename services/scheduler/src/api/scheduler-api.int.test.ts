import assert from "node:assert/strict";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { status, type ServiceError } from "@grpc/grpc-js";
import { connectBus, type Bus } from "@eas/bus";
import { decodeEvent, instanceStream, nodeStream } from "@eas/events";
import type { PlaceInstanceRequest, PlaceInstanceResponse } from "@eas/proto";
import { createLogger } from "@eas/telemetry";
import { heartbeatSubject } from "@eas/contracts";
import { executeCommand } from "@eas/service-kit";
import { startNatsServer, waitFor, type NatsServerHandle } from "@eas/testing";
import { NodeCommandType, nodeDecider } from "../domain/index.js";
import { registration, resources, startSchedulerFixture, type SchedulerFixture } from "../testing/scheduler-fixture.js";

let nats: NatsServerHandle;
let bus: Bus;
let scheduler: SchedulerFixture;

before(async () => {
  nats = await startNatsServer();
  bus = await connectBus({ servers: nats.url, name: "scheduler-api-test", logger: createLogger({ name: "bus", level: "silent" }) });
});
after(async () => {
  await bus?.drain();
  await nats?.stop();
});
beforeEach(async () => {
  scheduler = await startSchedulerFixture(bus, { natsUrl: nats.url });
});
afterEach(async () => {
  await scheduler.stop();
});

const register = (nodeId: string, partial: Parameters<typeof registration>[1] = {}) =>
  scheduler.calls.registerNode(registration(nodeId, partial));
const listNodes = () => scheduler.calls.listNodes();
const placeInstance = (request: Partial<PlaceInstanceRequest> & { instanceId: string }): Promise<PlaceInstanceResponse> =>
  scheduler.calls.placeInstance({
    service: "svc",
    version: 1,
    resources: resources({ cpuMillis: 1000, memoryMib: 1024 }),
    resourceGroup: "",
    resourceBurstable: false,
    spotAllowed: false,
    maxSpotPrice: 0,
    instanceTypes: [],
    ...request,
  });
const releaseInstance = (instanceId: string) => scheduler.calls.releaseInstance({ instanceId });
const cordonNode = (nodeId: string, cordon: boolean) => scheduler.calls.cordonNode({ nodeId, cordon, reason: "" });
const eventTypes = async (stream: string) => (await scheduler.store.readStream(stream)).map((event) => event.type);

async function rejectsWith(promise: Promise<unknown>, code: status, pattern?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: ServiceError) => {
    assert.equal(error.code, code, `gRPC status ${error.code} (${error.details})`);
    if (pattern) assert.match(error.details, pattern);
    return true;
  });
}

describe("Scheduler API: nodes", () => {
  it("registers two nodes and lists them Ready with their capacity", async () => {
    const rates = { cpuCoreHourMicros: 12_000, memoryGibHourMicros: 1_500, gpuHourMicros: 400_000 };
    const n1 = await register("n1", { resourceGroup: "team-a", spot: true, pricePerHour: 0.3, labels: { zone: "a" }, rates });
    assert.equal(n1.nodeId, "n1");
    assert.equal(n1.status, "Ready");
    assert.equal(n1.resourceGroup, "team-a");
    assert.equal(n1.spot, true);
    assert.deepEqual(n1.rates, rates);
    assert.equal(n1.instanceCount, 0);
    assert.ok(!Number.isNaN(Date.parse(n1.lastHeartbeat)));
    await register("n2");
    const nodes = await listNodes();
    assert.deepEqual(
      nodes.map((node) => [node.nodeId, node.status, node.capacity?.cpuMillis, node.allocated?.cpuMillis]),
      [
        ["n1", "Ready", 4000, 0],
        ["n2", "Ready", 4000, 0],
      ],
    );
    const event = decodeEvent((await scheduler.store.readStream(nodeStream("n1")))[0]!);
    assert.equal(event?.type, "eas.v1.NodeRegistered");
    assert.deepEqual(event?.type === "eas.v1.NodeRegistered" && event.data.labels, { zone: "a" });
    assert.deepEqual(event?.type === "eas.v1.NodeRegistered" && event.data.rates, rates);
  });

  it("a repeated identical registration writes nothing; a changed one writes NodeRegistered", async () => {
    await register("n1");
    await register("n1");
    assert.deepEqual(await eventTypes(nodeStream("n1")), ["eas.v1.NodeRegistered"]);
    const bigger = await register("n1", { capacity: resources({ cpuMillis: 8000, memoryMib: 8192 }) });
    assert.equal(bigger.capacity?.cpuMillis, 8000);
    assert.deepEqual(await eventTypes(nodeStream("n1")), ["eas.v1.NodeRegistered", "eas.v1.NodeRegistered"]);
  });

  it("refuses malformed registrations with INVALID_ARGUMENT", async () => {
    await rejectsWith(register("bad.id"), status.INVALID_ARGUMENT, /nodeId/);
    await rejectsWith(
      scheduler.calls.registerNode({ ...registration("n1"), capacity: undefined }),
      status.INVALID_ARGUMENT,
      /capacity: is required/,
    );
    await rejectsWith(register("n1", { agentAddress: "" }), status.INVALID_ARGUMENT, /agentAddress/);
    await rejectsWith(
      register("n1", { capacity: resources({ cpuMillis: 1000, gpuMemoryGib: 16 }) }),
      status.INVALID_ARGUMENT,
      /gpuMemoryGib/,
    );
    await rejectsWith(
      register("n1", { rates: { cpuCoreHourMicros: 0, memoryGibHourMicros: -5, gpuHourMicros: 0 } }),
      status.INVALID_ARGUMENT,
      /rates\.memoryGibHourMicros: must not be negative/,
    );
    assert.deepEqual(await listNodes(), []);
  });

  it("cordons and uncordons; cordoning an unknown node is NOT_FOUND", async () => {
    await register("n1");
    await register("n2");
    assert.equal((await cordonNode("n1", true)).status, "Cordoned");
    const placed = await placeInstance({ instanceId: "i-1" });
    assert.equal(placed.nodeId, "n2", "a cordoned node takes no new instance");
    assert.equal((await cordonNode("n1", false)).status, "Ready");
    await rejectsWith(cordonNode("ghost", true), status.NOT_FOUND, /ghost/);
  });
});

describe("Scheduler API: placement", () => {
  it("spreads 3 replicas over 2 nodes and records each InstanceScheduled", async () => {
    await register("n1");
    await register("n2");
    const placed = [];
    for (const instanceId of ["svc-1", "svc-2", "svc-3"]) placed.push(await placeInstance({ instanceId }));
    for (const answer of placed) {
      assert.equal(answer.placed, true);
      assert.equal(answer.pool, "public");
      assert.equal(answer.reason, "");
      assert.equal(answer.agentAddress, registration(answer.nodeId).agentAddress);
    }
    const perNode = new Map<string, number>();
    for (const answer of placed) perNode.set(answer.nodeId, (perNode.get(answer.nodeId) ?? 0) + 1);
    assert.deepEqual([...perNode.values()].sort(), [1, 2], "replicas spread: 2 on one node, 1 on the other");

    const scheduled = decodeEvent((await scheduler.store.readStream(instanceStream("svc-2")))[0]!);
    assert.equal(scheduled?.type, "eas.v1.InstanceScheduled");
    if (scheduled?.type === "eas.v1.InstanceScheduled") {
      assert.equal(scheduled.data.nodeId, placed[1]!.nodeId);
      assert.equal(scheduled.data.resources?.cpuMillis, 1000);
    }
    const nodes = await listNodes();
    assert.equal(
      nodes.reduce((sum, node) => sum + node.instanceCount, 0),
      3,
    );
    assert.equal(
      nodes.reduce((sum, node) => sum + (node.allocated?.cpuMillis ?? 0), 0),
      3000,
    );
  });

  it("a request that fits nowhere gets the Kubernetes-style reason and writes nothing", async () => {
    await register("n1");
    await register("n2", { resourceGroup: "team-b" });
    const answer = await placeInstance({ instanceId: "huge-1", resources: resources({ cpuMillis: 64_000 }) });
    assert.deepEqual(answer, {
      placed: false,
      nodeId: "",
      agentAddress: "",
      pool: "",
      reason: "0/2 nodes: 1 insufficient cpu, 1 other resource group",
    });
    assert.deepEqual(await eventTypes(instanceStream("huge-1")), []);
    const none = await placeInstance({ instanceId: "huge-2", resourceGroup: "nope" });
    assert.equal(none.placed, false);
    assert.match(none.reason, /^0\/2 nodes: /);
  });

  it("concurrent placements never over-commit a node", async () => {
    await register("n1");
    await register("n2");
    // 2 nodes x 4 cores, 1 core each: 8 fit, 4 must be refused.
    const answers = await Promise.all(
      Array.from({ length: 12 }, (_, index) => placeInstance({ instanceId: `c-${index}`, service: `svc${index % 3}` })),
    );
    assert.equal(answers.filter((answer) => answer.placed).length, 8);
    for (const refused of answers.filter((answer) => !answer.placed)) {
      assert.equal(refused.reason, "0/2 nodes: 2 insufficient cpu");
    }
    for (const node of await listNodes()) {
      assert.equal(node.instanceCount, 4, `${node.nodeId} holds 4 instances`);
      assert.ok((node.allocated?.cpuMillis ?? 0) <= (node.capacity?.cpuMillis ?? 0), `${node.nodeId} over-committed`);
    }
  });

  it("a retry with the same instance id returns the same node and writes nothing more", async () => {
    await register("n1");
    await register("n2");
    const first = await placeInstance({ instanceId: "retry-1" });
    const [second, third] = await Promise.all([placeInstance({ instanceId: "retry-1" }), placeInstance({ instanceId: "retry-1" })]);
    assert.deepEqual(second, first);
    assert.deepEqual(third, first);
    assert.deepEqual(await eventTypes(instanceStream("retry-1")), ["eas.v1.InstanceScheduled"]);
  });

  it("placing an instance id whose placement has ended is FAILED_PRECONDITION", async () => {
    await register("n1");
    await placeInstance({ instanceId: "ended-1" });
    await releaseInstance("ended-1");
    await rejectsWith(placeInstance({ instanceId: "ended-1" }), status.FAILED_PRECONDITION, /new instance id/);
  });

  it("refuses malformed placement requests with INVALID_ARGUMENT", async () => {
    await rejectsWith(placeInstance({ instanceId: "" }), status.INVALID_ARGUMENT, /instanceId: is required/);
    await rejectsWith(placeInstance({ instanceId: "a b" }), status.INVALID_ARGUMENT, /instanceId/);
    await rejectsWith(placeInstance({ instanceId: "ok-1", service: "" }), status.INVALID_ARGUMENT, /service: is required/);
  });
});

describe("Scheduler API: a node's address from a previous run", () => {
  /** What the log holds after a cluster restart: the node registered by the previous run, at its address then. */
  const registeredInPreviousRun = async (nodeId: string, agentAddress: string) => {
    await executeCommand({
      store: scheduler.store,
      stream: nodeStream(nodeId),
      decider: nodeDecider,
      command: {
        type: NodeCommandType.RegisterNode,
        ...registration(nodeId, { agentAddress }),
        capacity: resources({ cpuMillis: 4000, memoryMib: 8192 }),
        rates: { cpuCoreHourMicros: 0, memoryGibHourMicros: 0, gpuHourMicros: 0 },
        instanceType: "",
        now: new Date().toISOString(),
      },
      source: "eas/scheduler/previous-run",
    });
    await scheduler.cluster.waitForPosition(await scheduler.store.headPosition());
  };

  it("is not current: nothing is placed there until the agent registers again, at its new address", async () => {
    await registeredInPreviousRun("n1", "127.0.0.1:36791");
    const blocked = await placeInstance({ instanceId: "svc-1" });
    assert.deepEqual([blocked.placed, blocked.reason], [false, "0/1 nodes: 1 agent not connected"]);
    assert.equal((await listNodes())[0]?.agentConnected, false);

    await register("n1", { agentAddress: "127.0.0.1:41001" });
    const placed = await placeInstance({ instanceId: "svc-1" });
    assert.deepEqual([placed.placed, placed.agentAddress], [true, "127.0.0.1:41001"]);
    assert.equal((await listNodes())[0]?.agentConnected, true);
  });

  it("is current once a heartbeat names it (the scheduler restarted, the agent did not)", async () => {
    await scheduler.stop();
    scheduler = await startSchedulerFixture(bus, { natsUrl: nats.url, lostNodes: { heartbeatTimeoutMs: 60_000, intervalMs: 60_000 } });
    await registeredInPreviousRun("n1", "127.0.0.1:41002");
    // A heartbeat from another address (an agent that moved, not registered yet) confirms nothing.
    bus.publish(heartbeatSubject.with("n1"), { nodeId: "n1", at: new Date().toISOString(), instances: 0, agentAddress: "127.0.0.1:1" });
    await bus.flush();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal((await placeInstance({ instanceId: "svc-2" })).placed, false);
    bus.publish(heartbeatSubject.with("n1"), { nodeId: "n1", at: new Date().toISOString(), instances: 0, agentAddress: "127.0.0.1:41002" });
    await bus.flush();
    await waitFor("the heartbeat to be recorded", async () => (await listNodes())[0]?.agentConnected === true);
    assert.deepEqual((await placeInstance({ instanceId: "svc-2" })).agentAddress, "127.0.0.1:41002");
  });
});

describe("Scheduler API: release", () => {
  it("frees the allocation once; releasing again or an unknown instance writes nothing", async () => {
    await register("n1", { capacity: resources({ cpuMillis: 1000, memoryMib: 1024 }) });
    await placeInstance({ instanceId: "r-1" });
    assert.equal((await placeInstance({ instanceId: "r-2" })).placed, false, "the node is full");
    await releaseInstance("r-1");
    await releaseInstance("r-1");
    await releaseInstance("never-placed");
    assert.deepEqual(await eventTypes(instanceStream("r-1")), ["eas.v1.InstanceScheduled", "eas.v1.InstanceStopped"]);
    const stopped = decodeEvent((await scheduler.store.readStream(instanceStream("r-1")))[1]!);
    assert.deepEqual(stopped?.type === "eas.v1.InstanceStopped" && [stopped.data.nodeId, stopped.data.reason], ["n1", "released"]);
    assert.deepEqual(await eventTypes(instanceStream("never-placed")), []);
    assert.equal((await listNodes())[0]?.instanceCount, 0);
    assert.equal((await placeInstance({ instanceId: "r-2" })).nodeId, "n1", "the freed capacity is placeable at once");
  });
});

describe("Scheduler API: rebalance suggestions", () => {
  const suggest = (instanceIds: string[]) =>
    scheduler.calls.suggestRebalance({
      service: "svc",
      resources: resources({ cpuMillis: 1000, memoryMib: 1024 }),
      resourceGroup: "",
      resourceBurstable: false,
      spotAllowed: false,
      maxSpotPrice: 0,
      instanceTypes: [],
      instanceIds,
    });

  it("suggests moving one of two replicas that share a node once another fits them, and writes nothing", async () => {
    await register("n1");
    await placeInstance({ instanceId: "b-1" });
    await placeInstance({ instanceId: "b-2" });
    assert.deepEqual(
      (await listNodes()).map((n) => n.instanceCount),
      [2],
    );
    assert.equal((await suggest(["b-1", "b-2"])).move, false, "one node: nowhere to go");
    await register("n2");
    const before = await scheduler.store.headPosition();
    const suggestion = await suggest(["b-1", "b-2"]);
    assert.deepEqual([suggestion.move, suggestion.instanceId, suggestion.fromNode, suggestion.toNode], [true, "b-2", "n1", "n2"]);
    assert.match(suggestion.reason, /node n1 runs 2 of the 2 replicas of svc; node n2 runs 0/);
    assert.equal(await scheduler.store.headPosition(), before, "a suggestion writes nothing");
  });

  it("refuses a request without a service, or with a negative price, naming the field", async () => {
    await rejectsWith(
      scheduler.calls.suggestRebalance({ ...emptyRebalance, service: "" }),
      status.INVALID_ARGUMENT,
      /service: is required/,
    );
    await rejectsWith(
      scheduler.calls.suggestRebalance({ ...emptyRebalance, instanceTypes: [{ type: "x", spotPriceLimit: -1 }] }),
      status.INVALID_ARGUMENT,
      /instanceTypes\[0\]\.spotPriceLimit/,
    );
  });
});

const emptyRebalance = {
  service: "svc",
  resources: resources(),
  resourceGroup: "",
  resourceBurstable: false,
  spotAllowed: false,
  maxSpotPrice: 0,
  instanceTypes: [],
  instanceIds: [],
};

describe("Scheduler API: placement after a restart waits for the known nodes", () => {
  it("answers not placed, naming the nodes it waits for, until they register again or the grace ends", async () => {
    await register("n1");
    await register("n2");
    const tag = scheduler.tag;
    await scheduler.stop();
    // A restart over the same log: both nodes are known Ready, neither has been heard from yet.
    scheduler = await startSchedulerFixture(bus, { natsUrl: nats.url, tag, fleetGraceMs: 60_000 });
    const waiting = await placeInstance({ instanceId: "g-1" });
    assert.equal(waiting.placed, false);
    assert.match(waiting.reason, /waiting up to 60 s after a scheduler start for known nodes n1, n2 to register again/);
    await register("n1");
    assert.match((await placeInstance({ instanceId: "g-1" })).reason, /known node n2 to/);
    await register("n2");
    const placed = [await placeInstance({ instanceId: "g-1" }), await placeInstance({ instanceId: "g-2" })];
    assert.deepEqual(placed.map((p) => p.nodeId).sort(), ["n1", "n2"], "with both back, the replicas spread");
  });

  it("places with what is there once the grace is over", async () => {
    await register("n1");
    await register("n2");
    const tag = scheduler.tag;
    await scheduler.stop();
    scheduler = await startSchedulerFixture(bus, { natsUrl: nats.url, tag, fleetGraceMs: 300 });
    await register("n1");
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.equal((await placeInstance({ instanceId: "late-1" })).nodeId, "n1");
  });
});

describe("Scheduler API: reclaim notices", () => {
  it("marks a spot node Reclaiming with its deadline, moves its instances, and refuses on-demand nodes", async () => {
    await register("spot-1", { spot: true, pricePerHour: 0.2 });
    await register("od-1");
    const placed = await placeInstance({ instanceId: "s-1", spotAllowed: true });
    assert.equal(placed.nodeId, "spot-1", "cheaper first");
    const before = Date.now();
    const info = await scheduler.calls.reclaimNode({ nodeId: "spot-1", noticeMs: 30_000, reason: "test notice" });
    assert.equal(info.status, "Reclaiming");
    const deadline = Date.parse(info.reclaimDeadline);
    assert.ok(deadline >= before + 30_000 && deadline <= Date.now() + 30_000, info.reclaimDeadline);
    const move = decodeEvent((await scheduler.store.readStream(instanceStream("s-1"))).at(-1)!);
    assert.deepEqual(move?.type === "eas.v1.InstanceMoveRequested" && [move.data.cause, move.data.nodeId, move.data.deadline], [
      "reclaim",
      "spot-1",
      info.reclaimDeadline,
    ]);
    assert.equal((await placeInstance({ instanceId: "s-2", spotAllowed: true })).nodeId, "od-1", "a reclaiming node takes nothing");
    // A second notice changes nothing.
    await scheduler.calls.reclaimNode({ nodeId: "spot-1", noticeMs: 1_000, reason: "again" });
    assert.deepEqual(await eventTypes(nodeStream("spot-1")), ["eas.v1.NodeRegistered", "eas.v1.NodeReclaimNoticed"]);
    await rejectsWith(
      scheduler.calls.reclaimNode({ nodeId: "od-1", noticeMs: 1_000, reason: "" }),
      status.FAILED_PRECONDITION,
      /not a spot node/,
    );
    await rejectsWith(scheduler.calls.reclaimNode({ nodeId: "nope", noticeMs: 1_000, reason: "" }), status.NOT_FOUND);
    await rejectsWith(scheduler.calls.reclaimNode({ nodeId: "spot-1", noticeMs: 0, reason: "" }), status.INVALID_ARGUMENT, /noticeMs/);
  });
});

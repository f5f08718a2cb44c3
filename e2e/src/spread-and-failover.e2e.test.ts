/**
 * Replicas stay apart and survive a node: a restart over existing state ends spread (grace, then rebalance),
 * a node that joins takes a replica, and an agent killed with SIGKILL (its instances keep running) costs no
 * request; when it returns, its instances are stopped or taken over, never doubled. One cluster for the file.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { AgentClient, SchedulerClient, type ServiceInfo } from "@eas/proto";
import { waitFor } from "@eas/testing";
import { readEvents, startTestCluster, steadyLoad, unaryCall, type SteadyLoad, type TestCluster } from "./cluster-harness.js";

const echo = (name: string, instance: number, metadata: Record<string, unknown> = {}) =>
  JSON.stringify({ name, processor: "echo", metadata: { instance, cpu: 0.25, memory: 64, ...metadata } });

describe("replicas spread, rebalance and fail over without failed requests", { timeout: 900_000 }, () => {
  let t: TestCluster;
  /** Every load started, stopped at the end even when a test fails half-way (its workers would run on). */
  const loads: SteadyLoad[] = [];
  const load = (info: ServiceInfo, body: unknown): SteadyLoad => {
    const started = steadyLoad(t, info, body);
    loads.push(started);
    return started;
  };
  let scheduler: SchedulerClient;

  before(async () => {
    t = await startTestCluster([{ nodeId: "node-1" }, { nodeId: "node-2" }, { nodeId: "node-3", startLater: true }]);
    scheduler = new SchedulerClient(t.cluster.schedulerAddress, credentials.createInsecure());
  });

  after(async () => {
    await Promise.all(loads.map((l) => l.stop()));
    scheduler?.close();
    await t?.stop();
  });

  const getService = (name: string): Promise<ServiceInfo> => unaryCall(t.client, t.client.getService, { name });

  /** The service Running with exactly `count` instances, all Ready, and what `check` wants of them. */
  const settled = (name: string, count: number, check: (info: ServiceInfo) => boolean = () => true, timeoutMs = 90_000) =>
    waitFor(
      `${name}: ${count} Ready instances, placed as wanted`,
      async () => {
        const info = await getService(name);
        const ready = info.instances.filter((i) => i.status === "Ready");
        return info.status === "Running" && info.instances.length === count && ready.length === count && check(info) ? info : undefined;
      },
      { timeoutMs, intervalMs: 250 },
    );
  const nodesOf = (info: ServiceInfo) => info.instances.map((i) => i.nodeId).sort();
  const spreadOver = (count: number) => (info: ServiceInfo) => new Set(nodesOf(info)).size === count;

  /** Starts an agent (again) and waits until it serves. */
  const startAgent = async (nodeId: string) => {
    await t.cluster.restart(`agent-${nodeId}`);
    await waitFor(`agent ${nodeId} ready`, async () => (await t.readyz(`agent-${nodeId}`)) === 200, { timeoutMs: 60_000 });
  };

  /** What an agent runs, by instance id. */
  const agentInstances = async (nodeId: string): Promise<string[]> => {
    const { nodes } = await unaryCall(scheduler, scheduler.listNodes, {});
    const node = nodes.find((n) => n.nodeId === nodeId)!;
    const agent = new AgentClient(node.agentAddress, credentials.createInsecure());
    try {
      return (await unaryCall(agent, agent.listInstances, {})).instances.map((i) => i.instanceId).sort();
    } finally {
      agent.close();
    }
  };

  it("after a restart over existing state with a late agent, the replicas end spread; SIGKILL of either agent under load fails no request", async () => {
    await unaryCall(t.client, t.client.createService, { spec: echo("spread", 2) });
    await settled("spread", 2, spreadOver(2));

    // The whole cluster goes down gracefully (the deployer first, as the launcher does), and comes back with
    // node-2's agent late: past the scheduler's grace, both replicas land on node-1; node-2's return spreads them.
    await t.cluster.kill("deployer");
    await Promise.all([t.cluster.kill("agent-node-1"), t.cluster.kill("agent-node-2")]);
    await Promise.all(["scheduler", "gateway"].map((name) => t.cluster.kill(name)));
    for (const name of ["scheduler", "gateway", "deployer"]) await t.cluster.restart(name);
    await startAgent("node-1");
    await waitFor("the services ready", async () => (await t.readyz("deployer")) === 200 && (await t.readyz("gateway")) === 200, {
      timeoutMs: 60_000,
    });
    await settled("spread", 2, (info) => nodesOf(info).join() === "node-1,node-1");
    const sharing = await getService("spread");
    assert.match(sharing.placementWarnings.join("\n"), /all 2 replicas run on node node-1/, "eas desc warns");
    const positionBefore = (await readEvents(t.client)).at(-1)!.position;
    await startAgent("node-2");
    const spread = await settled("spread", 2, spreadOver(2));
    assert.deepEqual(spread.placementWarnings, []);
    const moves = await readEvents(t.client, positionBefore, "eas.v1.InstanceMoveRequested");
    assert.equal(moves.length, 1, "one replica moved");
    assert.match(moves[0]!.dataJson, /"cause":"rebalance"/);
    assert.match(moves[0]!.dataJson, /node node-1 runs 2 of the 2 replicas of spread/);

    // SIGKILL of either agent under steady load: node-1's first, then, once it is back and the replicas are
    // spread again, node-2's.
    for (const [victim, survivor] of [
      ["node-1", "node-2"],
      ["node-2", "node-1"],
    ] as const) {
      const info = await getService("spread");
      const traffic = load(info, { hello: "spread" });
      await waitFor("load flowing", () => traffic.ok > 20, { timeoutMs: 10_000 });
      await t.cluster.kill(`agent-${victim}`, "SIGKILL");
      await settled("spread", 2, (now) => nodesOf(now).join() === `${survivor},${survivor}`, 120_000);
      const { ok, failures } = await traffic.stop();
      assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failed of ${ok + failures.length} after SIGKILL of ${victim}'s agent`);
      await startAgent(victim);
      await settled("spread", 2, spreadOver(2), 120_000);
      assert.deepEqual(await agentInstances(victim), [(await getService("spread")).instances.find((i) => i.nodeId === victim)!.instanceId]);
    }
  });

  it("a third agent joining takes one of three replicas that sit on two nodes, with zero failed requests", async () => {
    await unaryCall(t.client, t.client.createService, { spec: echo("trio", 3) });
    const before = await settled("trio", 3, spreadOver(2));
    const traffic = load(before, { hello: "trio" });
    await waitFor("load flowing", () => traffic.ok > 20, { timeoutMs: 10_000 });
    const from = (await readEvents(t.client)).at(-1)!.position;
    await startAgent("node-3");
    const after = await settled("trio", 3, spreadOver(3), 120_000);
    const { ok, failures } = await traffic.stop();
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failed of ${ok + failures.length}`);
    assert.deepEqual(nodesOf(after), ["node-1", "node-2", "node-3"]);
    const moves = (await readEvents(t.client, from, "eas.v1.InstanceMoveRequested")).filter((e) => e.dataJson.includes('"service":"trio"'));
    assert.equal(moves.length, 1, "exactly one replica moved");
  });

  it("SIGKILL of the agent running every replica (they keep running): no request fails, and its return leaves exactly the desired count", async () => {
    // Bad input first: rebalance must be a boolean.
    await assert.rejects(
      unaryCall(t.client, t.client.createService, { spec: echo("pinned", 2, { rebalance: "no" }) }),
      (error: ServiceError) => {
        assert.equal(error.code, status.INVALID_ARGUMENT);
        assert.match(error.details, /metadata\.rebalance: must be true or false/);
        return true;
      },
    );
    // Both replicas on node-3, kept there (rebalance: false): the other nodes are cordoned while it is created.
    const cordon = (nodeId: string, on: boolean) => unaryCall(scheduler, scheduler.cordonNode, { nodeId, cordon: on, reason: "test" });
    await cordon("node-1", true);
    await cordon("node-2", true);
    await unaryCall(t.client, t.client.createService, { spec: echo("pinned", 2, { rebalance: false }) });
    const pinned = await settled("pinned", 2, (info) => nodesOf(info).join() === "node-3,node-3");
    await cordon("node-1", false);
    await cordon("node-2", false);
    assert.match(pinned.placementWarnings.join("\n"), /all 2 replicas run on node node-3: .*metadata\.rebalance is false/);

    const traffic = load(pinned, { hello: "pinned" });
    await waitFor("load flowing", () => traffic.ok > 20, { timeoutMs: 10_000 });
    await t.cluster.kill("agent-node-3", "SIGKILL");
    // The node is lost after the heartbeat timeout: its instances are Lost, still routed, and replaced elsewhere.
    await waitFor(
      "pinned's instances Lost",
      async () => (await getService("pinned")).instances.filter((i) => i.status === "Lost").length === 2,
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const replaced = await settled("pinned", 2, (info) => info.instances.every((i) => i.nodeId !== "node-3"), 120_000);
    const { ok, failures } = await traffic.stop();
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failed of ${ok + failures.length}`);

    await startAgent("node-3");
    // Its old instances were drained and stopped while it was away: the returning agent stops their processes.
    const old = new Set(pinned.instances.map((i) => i.instanceId));
    await waitFor("node-3 runs nothing of pinned", async () => !(await agentInstances("node-3")).some((id) => old.has(id)), {
      timeoutMs: 30_000,
    });
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const final = await settled("pinned", 2);
    assert.deepEqual(
      final.instances.map((i) => i.instanceId).sort(),
      replaced.instances.map((i) => i.instanceId).sort(),
      "exactly the replacements, none doubled",
    );
    const trail = (await readEvents(t.client)).filter((e) => pinned.instances.some((i) => e.stream === `instance-${i.instanceId}`));
    assert.deepEqual(
      [...new Set(trail.map((e) => e.type))].filter((type) => /Lost|Draining|Stopped/.test(type)),
      ["eas.v1.InstanceLost", "eas.v1.InstanceDraining", "eas.v1.InstanceStopped"],
    );
  });

  it("an agent killed and back before its node is declared lost takes its instances over: replaced, then stopped, never doubled", async () => {
    const before = await settled("spread", 2, spreadOver(2));
    const victim = before.instances[0]!;
    const traffic = load(before, { hello: "quick" });
    await waitFor("load flowing", () => traffic.ok > 20, { timeoutMs: 10_000 });
    await t.cluster.kill(`agent-${victim.nodeId}`, "SIGKILL");
    await startAgent(victim.nodeId);
    await waitFor(
      "the orphan asked to move",
      async () =>
        (await readEvents(t.client, 0, "eas.v1.InstanceMoveRequested")).some(
          (e) => e.stream === `instance-${victim.instanceId}` && e.dataJson.includes('"cause":"orphaned"'),
        ),
      // The returning agent reads each leftover's life from the log before it asks: slow on a loaded machine.
      { timeoutMs: 60_000 },
    );
    const after = await settled("spread", 2, (info) => !info.instances.some((i) => i.instanceId === victim.instanceId), 120_000);
    const { ok, failures } = await traffic.stop();
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failed of ${ok + failures.length}`);
    assert.equal(after.instances.length, 2);
    await waitFor("the orphan stopped on its node", async () => !(await agentInstances(victim.nodeId)).includes(victim.instanceId), {
      timeoutMs: 30_000,
    });
  });
});

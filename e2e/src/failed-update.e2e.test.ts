import { after, before, describe, it, type TestContext } from "node:test";
import assert from "node:assert/strict";
import { credentials } from "@grpc/grpc-js";
import { AgentClient, SchedulerClient, unaryCall, type AgentInstance, type ServiceInfo } from "@eas/proto";
import { waitFor } from "@eas/testing";
import { readEvents, startTestCluster, steadyLoad, type TestCluster } from "./cluster-harness.js";

async function getService(t: TestCluster, name: string): Promise<ServiceInfo> {
  return unaryCall(t.client, t.client.getService, { name });
}

/** Instance ids of `service` ever scheduled with `version`, from the log (so replaced instances count too). */
async function instancesEverScheduled(t: TestCluster, service: string, version: number): Promise<string[]> {
  const scheduled = await readEvents(t.client, 0, "eas.v1.InstanceScheduled");
  return scheduled
    .map((e) => JSON.parse(e.dataJson) as { instanceId: string; service: string; version?: number })
    .filter((d) => d.service === service && (d.version ?? 0) === version)
    .map((d) => d.instanceId);
}

/** What the scheduler holds (placements) and what the agents run (processes), over every node. */
async function clusterInstances(t: TestCluster): Promise<{ placed: number; running: AgentInstance[] }> {
  const scheduler = new SchedulerClient(t.cluster.schedulerAddress, credentials.createInsecure());
  try {
    const { nodes } = await unaryCall(scheduler, scheduler.listNodes, {});
    const running: AgentInstance[] = [];
    for (const node of nodes) {
      const agent = new AgentClient(node.agentAddress, credentials.createInsecure());
      try {
        running.push(...(await unaryCall(agent, agent.listInstances, {})).instances);
      } finally {
        agent.close();
      }
    }
    return { placed: nodes.reduce((sum, n) => sum + n.instanceCount, 0), running };
  } finally {
    scheduler.close();
  }
}

/** The agent's view of one instance: its endpoint is known there before the instance is ever Ready. */
async function onAgent(t: TestCluster, instanceId: string): Promise<AgentInstance | undefined> {
  return (await clusterInstances(t)).running.find((i) => i.instanceId === instanceId);
}

const readyOf = (info: ServiceInfo, version: number) =>
  info.instances
    .filter((i) => i.version === version && i.status === "Ready")
    .map((i) => i.instanceId)
    .sort();

interface BadVersion {
  /** The update that makes version 2 bad. */
  patch: object;
  /** The status and reason the service must show while the rollout is stuck. */
  status: "Updating" | "Failed";
  reason: RegExp;
  /** Resolves once version 2 has shown its badness (crashed, failed its probe) for a while; checks there is no churn. */
  settle(firstBadId: string): Promise<void>;
  /** How the user gets out: roll back to version 1, or update to a good version 3 with this patch. */
  recover: "rollback" | object;
}

/**
 * The whole bad-rollout story for one service: deploy v1 (2 replicas) under steady load, update to a bad
 * version 2, check the rollout is stuck with a reason while the v1 instances keep serving, then recover
 * and check the service is Running on the good version alone, with nothing of version 2 left on the
 * scheduler or the agents, and not one request failed over the whole run.
 */
async function badRolloutThenRecover(t: TestCluster, ctx: TestContext, name: string, badVersion: BadVersion) {
  const good = { name, metadata: { instance: 2, cpu: 0.5, memory: 256 }, processor: "echo", processor_config: { latency_ms: 2 } };
  await unaryCall(t.client, t.client.createService, { spec: JSON.stringify(good) });
  const v1 = await waitFor(
    `${name} Running`,
    async () => {
      const info = await getService(t, name);
      return info.status === "Running" ? info : undefined;
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  const servingV1 = readyOf(v1, 1);
  assert.equal(servingV1.length, 2);

  const load = steadyLoad(t, v1, { ping: 1 });
  let loadResult: Awaited<ReturnType<typeof load.stop>>;
  try {
    await waitFor("load flowing", () => load.ok > 10, { timeoutMs: 10_000, intervalMs: 50 });
    const updated = await unaryCall(t.client, t.client.updateService, { name, spec: JSON.stringify(badVersion.patch), updateType: "" });
    assert.equal(updated.currentVersion, 2);

    // From the log: an instance that fails at once may be released before the view is read.
    const [firstBadId] = await waitFor(`${name}'s first version 2 instance`, async () => {
      const ids = await instancesEverScheduled(t, name, 2);
      return ids.length > 0 ? ids : undefined;
    });
    await badVersion.settle(firstBadId!);
    let seen: ServiceInfo | undefined;
    const stuck = await waitFor(
      `${name} ${badVersion.status} with a reason`,
      async () => {
        seen = await getService(t, name);
        return seen.status === badVersion.status && badVersion.reason.test(seen.reason) ? seen : undefined;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; last seen: ${seen?.status} "${seen?.reason}" ${JSON.stringify(seen?.instances)}`);
    });
    ctx.diagnostic(`stuck: ${stuck.status}: ${stuck.reason}`);
    assert.deepEqual(readyOf(stuck, 1), servingV1, "the version 1 instances are untouched and still Ready");
    assert.deepEqual(readyOf(stuck, 2), [], "no version 2 instance is Ready");
    const badEver = await instancesEverScheduled(t, name, 2);

    const goodVersion = badVersion.recover === "rollback" ? 1 : 3;
    const recovering =
      badVersion.recover === "rollback"
        ? await unaryCall(t.client, t.client.rollbackService, { name, version: 1 })
        : await unaryCall(t.client, t.client.updateService, { name, spec: JSON.stringify(badVersion.recover), updateType: "" });
    assert.equal(recovering.currentVersion, goodVersion);
    // The bad version's crash loop is not held against the good one (`eas modify` gives up on Failed).
    assert.notEqual(recovering.status, "Failed", recovering.reason);
    const recovered = await waitFor(
      `${name} Running on version ${goodVersion} alone`,
      async () => {
        const info = await getService(t, name);
        return info.status === "Running" && info.instances.length === 2 && info.instances.every((i) => i.version === goodVersion)
          ? info
          : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 100 },
    );
    assert.equal(recovered.reason, "");
    if (goodVersion === 1) assert.deepEqual(readyOf(recovered, 1), servingV1, "rolling back kept the instances that never stopped serving");
    const left = await waitFor(
      "the bad instances' processes gone",
      async () => {
        const now = await clusterInstances(t);
        return now.running.some((i) => i.service === name && i.version === 2) ? undefined : now;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    assert.deepEqual(
      left.running
        .filter((i) => i.service === name)
        .map((i) => i.instanceId)
        .sort(),
      readyOf(recovered, goodVersion),
      "the agents run the good version only",
    );
    assert.equal(left.placed, 2, "the scheduler holds no placement of the bad version");
    assert.deepEqual(await instancesEverScheduled(t, name, 2), badEver, "nothing of version 2 was created after recovering");
  } finally {
    // Stopped on failure too, but checked only after the steps passed, so a step's own error is what shows.
    loadResult = await load.stop();
  }
  const { ok, failures } = loadResult;
  ctx.diagnostic(`${ok} requests answered 200, ${failures.length} failed`);
  assert.deepEqual(failures, [], `${failures.length} failed of ${ok + failures.length}`);
  assert.ok(ok > 50, `only ${ok} requests went through`);
  await unaryCall(t.client, t.client.deleteService, { name });
  await waitFor(`${name} gone from the nodes`, async () => (await clusterInstances(t)).placed === 0, {
    timeoutMs: 30_000,
    intervalMs: 100,
  });
}

/** The events of one instance's stream, with their `at` times. */
async function instanceEvents(t: TestCluster, instanceId: string) {
  const events = await readEvents(t.client, 0, "eas.v1.Instance");
  return events
    .filter((e) => e.stream === `instance-${instanceId}`)
    .map((e) => ({ type: e.type, position: e.position, at: Date.parse((JSON.parse(e.dataJson) as { at: string }).at) }));
}

describe("a bad update: the old version keeps serving, the status says why, the user gets out", { timeout: 180_000 }, () => {
  let t: TestCluster;

  before(async () => {
    t = await startTestCluster([{ nodeId: "node-1" }, { nodeId: "node-2" }]);
  });

  after(async () => {
    await t?.stop();
  });

  it("a version whose process crashes at start (invalid processor_config) is Failed with the crash as reason; rollback recovers", async (ctx) => {
    const name = "crash_update";
    // The echo processor refuses a negative latency and exits 1; the spec check does not know processor configs.
    // Its exits before Ready count like failed launches: two exits and the agent giving up make version 2 Failed.
    await badRolloutThenRecover(t, ctx, name, {
      patch: { processor_config: { latency_ms: -5 } },
      status: "Failed",
      reason: /process exited with code 1: ".*latency_ms/,
      async settle(badId) {
        const events = await waitFor(
          "the agent giving up on the crashing instance",
          async () => {
            const life = await instanceEvents(t, badId);
            return life.at(-1)?.type === "eas.v1.InstanceFailed" ? life : undefined;
          },
          { timeoutMs: 20_000, intervalMs: 100 },
        );
        // Restarted in place at most twice (max surge 1, no churn), then given up on.
        assert.deepEqual(
          events.map((e) => e.type.replace("eas.v1.Instance", "")),
          ["Scheduled", "Starting", "Exited", "Starting", "Exited", "Starting", "Failed"],
        );
        // The agent backs off before each restart (1 s, then doubling), so the crash loop does not spin.
        const exits = events.filter((e) => e.type === "eas.v1.InstanceExited");
        for (const exit of exits) {
          const restart = events.find((e) => e.type === "eas.v1.InstanceStarting" && e.position > exit.position);
          assert.ok(restart, "restarted after its exit");
          assert.ok(restart.at - exit.at >= 900, `restarted ${restart.at - exit.at} ms after exiting`);
        }
      },
      recover: "rollback",
    });
  });

  it("a version that starts but never passes its readiness probe is stuck with the instance named; rollback recovers", async (ctx) => {
    const name = "unready_update";
    await badRolloutThenRecover(t, ctx, name, {
      patch: {
        containers: [
          {
            script: `node -e "require('http').createServer((q,s)=>{s.statusCode=404;s.end()}).listen(process.env.PORT)"`,
            port: 8000,
            readiness_probe: { http_get: { path: "/ready" }, period_seconds: 1 },
          },
        ],
      },
      status: "Updating",
      reason:
        /of version 2 is not Ready \(Unhealthy\): readiness probe failed \d+ times in a row: the process answers HTTP 404 from GET \/ready/,
      async settle(badId) {
        // Up and answering, but 404 on its probe path: the agent's probe keeps failing.
        const endpoint = await waitFor(
          "the bad instance answering",
          async () => {
            const running = await onAgent(t, badId);
            if (!running?.endpoint) return undefined;
            const response = await fetch(`http://${running.endpoint.replace(/^https?:\/\//, "")}/ready`);
            await response.body?.cancel();
            return response.status === 404 ? running.endpoint : undefined;
          },
          { timeoutMs: 15_000, intervalMs: 100 },
        );
        ctx.diagnostic(`bad instance ${badId} answers 404 at ${endpoint}/ready`);
        // A few probe periods later it is still the only version 2 instance, and not Ready.
        await new Promise((resolve) => setTimeout(resolve, 3_000));
        assert.deepEqual(await instancesEverScheduled(t, name, 2), [badId]);
      },
      recover: "rollback",
    });
  });

  it("a version whose model is missing fails with the storage error; an update to a good version recovers", async (ctx) => {
    const name = "missing_model_update";
    await badRolloutThenRecover(t, ctx, name, {
      patch: { model_path: "obj://models/no-such-model.onnx" },
      status: "Failed",
      reason: /no-such-model\.onnx/,
      async settle() {
        await waitFor("three failed version 2 instances", async () => (await instancesEverScheduled(t, name, 2)).length >= 4, {
          timeoutMs: 20_000,
          intervalMs: 100,
        });
        // The agent cannot restart a failed mount in place, so the reconciler replaces the instance,
        // backing off from the second failure on (2 s, then doubling): no tight create/fail loop.
        const ids = await instancesEverScheduled(t, name, 2);
        const lives = await Promise.all(ids.map((id) => instanceEvents(t, id)));
        const failedAt = lives.map((events) => events.find((e) => e.type === "eas.v1.InstanceFailed")?.at);
        const scheduledAt = lives.map((events) => events.find((e) => e.type === "eas.v1.InstanceScheduled")?.at);
        for (let failures = 2; failures < ids.length; failures++) {
          const [failed, next] = [failedAt[failures - 1], scheduledAt[failures]];
          assert.ok(failed !== undefined && next !== undefined, `instance ${failures} failed and was replaced`);
          assert.ok(
            next - failed >= 1_000 * 2 ** (failures - 1) - 100,
            `replacement ${failures} came ${next - failed} ms after the failure`,
          );
        }
      },
      recover: { model_path: null, processor_config: { latency_ms: 3 } },
    });
  });
});

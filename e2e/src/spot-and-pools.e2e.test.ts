/**
 * Where instances run and what happens when the cloud takes a spot node back: a service bound to a dedicated
 * group overflows into the public pool and gives the public instances back first, scaled by `eas scale` or by
 * the autoscaler; a spot reclaim notice (from
 * `eas nodes reclaim`, or from the agent's notice file) moves the node's instances before the deadline with no
 * failed request. One cluster for the file.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { ServiceInfo } from "@eas/proto";
import { waitFor } from "@eas/testing";
import { readEvents, startTestCluster, steadyLoad, unaryCall, type SteadyLoad, type TestCluster } from "./cluster-harness.js";

const run = promisify(execFile);
const repoRoot = new URL("../../", import.meta.url).pathname;

/**
 * The notice the test gives: 12 s instead of the cloud's usual 30 s. The behaviour is the same (replacements
 * start at once and are Ready in about 2 s; the doomed instance is drained then), the test is shorter.
 */
const NOTICE_S = 12;

describe("elastic pools and spot reclaim", { timeout: 600_000 }, () => {
  let t: TestCluster;
  /** Every load started, stopped at the end even when a test fails half-way (its workers would run on). */
  const loads: SteadyLoad[] = [];
  const load = (info: ServiceInfo, body: unknown): SteadyLoad => {
    const started = steadyLoad(t, info, body);
    loads.push(started);
    return started;
  };

  before(async () => {
    t = await startTestCluster([
      { nodeId: "ded-1", resourceGroup: "g1", cpuMillis: 1000, pricePerHour: 1 },
      { nodeId: "pub-1", instanceType: "od-b", pricePerHour: 1 },
      { nodeId: "spot-1", instanceType: "spot-a", spot: true, pricePerHour: 0.2 },
      { nodeId: "spot-2", instanceType: "spot-a", spot: true, pricePerHour: 0.2 },
    ]);
  });

  after(async () => {
    await Promise.all(loads.map((l) => l.stop()));
    await t?.stop();
  });

  /** Runs the real `eas` CLI against the test cluster. */
  const eas = async (...args: string[]): Promise<string> => {
    const { stdout } = await run(
      process.execPath,
      [join(repoRoot, "cli/bin/eas.mjs"), "--endpoint", t.cluster.deployerAddress, "--scheduler", t.cluster.schedulerAddress, ...args],
      { timeout: 120_000 },
    );
    return stdout;
  };
  const getService = (name: string): Promise<ServiceInfo> => unaryCall(t.client, t.client.getService, { name });
  const settled = (name: string, count: number, check: (info: ServiceInfo) => boolean = () => true, timeoutMs = 90_000) =>
    waitFor(
      `${name}: ${count} Ready instances, placed as wanted`,
      async () => {
        const info = await getService(name);
        const ready = info.instances.filter((i) => i.status === "Ready").length;
        return info.status === "Running" && info.instances.length === count && ready === count && check(info) ? info : undefined;
      },
      { timeoutMs, intervalMs: 250 },
    );
  /** Waits until these nodes are Ready (a loaded machine may delay a heartbeat past the timeout; the agent re-registers). */
  const nodesReady = (...ids: string[]) =>
    waitFor(
      `nodes ${ids.join(", ")} Ready`,
      async () => {
        const listed = JSON.parse(await eas("--json", "nodes")) as { nodeId: string; status: string }[];
        return ids.every((id) => listed.some((n) => n.nodeId === id && n.status === "Ready"));
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
  const classes = (info: ServiceInfo) =>
    info.instances
      .map((i) => `${i.pool}${i.spot ? " spot" : ""}@${i.nodeId}`)
      .sort()
      .join(", ");

  it("a service bound to a dedicated group overflows into the public pool, and scale-in gives the public instances back first", async () => {
    const spec = {
      name: "grouped",
      processor: "echo",
      metadata: { instance: 2, cpu: 0.5, memory: 64, resource: "g1", resource_burstable: true },
    };
    await unaryCall(t.client, t.client.createService, { spec: JSON.stringify(spec) });
    const inGroup = await settled("grouped", 2);
    assert.equal(classes(inGroup), "dedicated@ded-1, dedicated@ded-1");

    await eas("scale", "grouped", "4");
    const overflowing = await settled("grouped", 4);
    assert.equal(classes(overflowing), "dedicated@ded-1, dedicated@ded-1, public@pub-1, public@pub-1", "spot nodes are not allowed");
    const desc = await eas("desc", "grouped");
    assert.match(desc, /By class: 2 dedicated, 2 public/);
    assert.match(desc, /│ ded-1\s+│ dedicated\s+│/);

    await eas("scale", "grouped", "2");
    const back = await settled("grouped", 2);
    assert.deepEqual(
      back.instances.map((i) => i.instanceId).sort(),
      inGroup.instances.map((i) => i.instanceId).sort(),
      "the dedicated instances stay, the public ones went",
    );

    // The same path from an autoscaling decision: a policy whose bounds the count is outside of brings it to them.
    const autoscale = (...args: string[]) =>
      eas("autoscale", "grouped", "--autoscaler", `127.0.0.1:${t.cluster.services.get("autoscaler")!.grpcPort}`, ...args);
    await autoscale("--min", "4", "--max", "4", "--qps", "1000");
    const scaledOut = await settled("grouped", 4);
    assert.equal(
      classes(scaledOut),
      "dedicated@ded-1, dedicated@ded-1, public@pub-1, public@pub-1",
      "the autoscaler's scale-out overflows",
    );
    assert.equal(scaledOut.lastScale?.cause, "autoscaler");
    await autoscale("--min", "2", "--max", "2", "--qps", "1000");
    const scaledIn = await settled("grouped", 2);
    assert.deepEqual(
      scaledIn.instances.map((i) => i.instanceId).sort(),
      inGroup.instances.map((i) => i.instanceId).sort(),
      "the autoscaler's scale-in gives the public instances back first too",
    );
    assert.match(scaledIn.lastScale?.reason ?? "", /above max 2 -> 2/);
    await autoscale("--delete");
  });

  it(`a spot reclaim with ${NOTICE_S} s notice (eas nodes reclaim) under steady load: no failed request, the replacement Ready before the deadline`, async () => {
    const spec = {
      name: "bidder",
      processor: "echo",
      metadata: { instance: 2, cpu: 0.25, memory: 64 },
      cloud: { computing: { instances: [{ type: "spot-a", spot_price_limit: 0.5 }, { type: "od-b" }] } },
    };
    await nodesReady("pub-1", "spot-1", "spot-2");
    await unaryCall(t.client, t.client.createService, { spec: JSON.stringify(spec) });
    // The spot bid comes first in the list: one replica on each spot node.
    const before = await settled("bidder", 2);
    assert.equal(classes(before), "public spot@spot-1, public spot@spot-2");
    const doomed = before.instances.find((i) => i.nodeId === "spot-1")!;

    const traffic = load(before, { hello: "spot" });
    await waitFor("load flowing", () => traffic.ok > 20, { timeoutMs: 10_000 });
    const from = (await readEvents(t.client)).at(-1)!.position;
    const answer = await eas("nodes", "reclaim", "spot-1", "--in", `${NOTICE_S}s`);
    assert.match(answer, /node spot-1 is Reclaiming: reclaimed at/);
    const deadline = Date.parse(/reclaimed at (\S+);/.exec(answer)![1]!);

    // The next type in the list (on demand), as spot-2 already runs a replica: make-before-break, before the deadline.
    const moved = await settled("bidder", 2, (info) => !info.instances.some((i) => i.instanceId === doomed.instanceId), NOTICE_S * 1000);
    assert.ok(Date.now() < deadline, "replaced and drained before the deadline");
    assert.equal(classes(moved), "public spot@spot-2, public@pub-1");
    await waitFor(
      "the node reclaimed at its deadline",
      async () => (await readEvents(t.client, from, "eas.v1.NodeReclaimed")).length === 1,
      {
        timeoutMs: NOTICE_S * 1000 + 10_000,
      },
    );
    const { ok, failures } = await traffic.stop();
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failed of ${ok + failures.length}`);

    // The trail, in `eas events`: the notice, the move and why, the replacement, the drain, the stop, the reclaim.
    const trail = (await eas("events", "--from", String(from)))
      .split("\n")
      .filter((line) => line.includes("node-spot-1") || line.includes(doomed.instanceId) || /InstanceReady .*bidder/.test(line));
    const types = trail.map((line) => /eas\.v1\.(\w+)/.exec(line)?.[1]);
    assert.deepEqual(
      types.filter((type) => type !== "InstanceReady"),
      ["NodeReclaimNoticed", "InstanceMoveRequested", "InstanceDraining", "InstanceStopped", "NodeReclaimed"],
      trail.join("\n"),
    );
    assert.match(trail[1]!, /cause=reclaim .*deadline=/);
    const stoppedAt = (await readEvents(t.client, from, "eas.v1.InstanceStopped")).find(
      (e) => e.stream === `instance-${doomed.instanceId}`,
    )!;
    assert.ok(Date.parse(stoppedAt.time) < deadline, "the doomed instance stopped before the deadline: billed until then");
    await waitFor("the reclaimed node's agent gone", () => !t.cluster.isRunning("agent-spot-1"), { timeoutMs: 30_000 });
  });

  it("a reclaim notice from the agent's notice file (a metadata watcher's) moves the node's instances the same way", async () => {
    const before = await settled("bidder", 2);
    const doomed = before.instances.find((i) => i.nodeId === "spot-2")!;
    await nodesReady("spot-2");
    const traffic = load(before, { hello: "notice file" });
    await waitFor("load flowing", () => traffic.ok > 20, { timeoutMs: 10_000 });
    writeFileSync(join(t.dataDir, "agents", "spot-2", "reclaim-notice.json"), JSON.stringify({ in_seconds: NOTICE_S }));
    await waitFor(
      "spot-2 Reclaiming",
      async () =>
        (JSON.parse(await eas("--json", "nodes")) as { nodeId: string; status: string }[]).some(
          (n) => n.nodeId === "spot-2" && n.status === "Reclaiming",
        ),
      { timeoutMs: 10_000 },
    );
    const moved = await settled("bidder", 2, (info) => !info.instances.some((i) => i.instanceId === doomed.instanceId), NOTICE_S * 1000);
    assert.equal(classes(moved), "public@pub-1, public@pub-1", "no spot node left: on demand, as the list allows");
    const { ok, failures } = await traffic.stop();
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failed of ${ok + failures.length}`);
    const noticed = await readEvents(t.client, 0, "eas.v1.NodeReclaimNoticed");
    assert.match(noticed.find((e) => e.stream === "node-spot-2")!.dataJson, /agent: notice file/);
  });
});

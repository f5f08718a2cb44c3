import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { status, type ServiceError } from "@grpc/grpc-js";
import { waitFor } from "@eas/testing";
import { readEvents, startTestCluster, unaryCall, type TestCluster } from "./cluster-harness.js";

const run = promisify(execFile);

const demoSpec = JSON.stringify({
  name: "foundation_demo",
  metadata: { instance: 0, cpu: 1, memory: 256 },
  processor: "echo",
});

describe("foundation: the local cluster wires every service to the event log", { timeout: 240_000 }, () => {
  let t: TestCluster;

  before(async () => {
    t = await startTestCluster([{ nodeId: "node-1" }]);
  });

  after(async () => {
    await t?.stop();
  });

  it("CreateService appends ServiceCreated and the projections that follow services see it", async () => {
    const info = await unaryCall(t.client, t.client.createService, { spec: demoSpec });
    assert.equal(info.name, "foundation_demo");
    assert.equal(info.currentVersion, 1);
    assert.ok(info.token.length >= 24, "a token is generated");

    const created = await readEvents(t.client, 0, "eas.v1.ServiceCreated");
    assert.equal(created.length, 1);
    assert.equal(created[0]!.stream, "service-foundation_demo");

    const deployer = await t.projections("deployer");
    assert.ok((deployer["service-views"]!.state as Record<string, unknown>)["foundation_demo"]);
    await waitFor("the gateway routes foundation_demo", async () => {
      const routes = (await t.projections("gateway"))["routes"];
      const state = routes?.state as { services?: Record<string, { stopped: boolean }> } | undefined;
      return state?.services?.["foundation_demo"]?.stopped === false;
    });
  });

  it("an invalid spec is INVALID_ARGUMENT naming the field, and writes no event", async () => {
    const before = await readEvents(t.client);
    const bad = JSON.stringify({ name: "bad_spec", metadata: { instance: -1, cpu: 1, memory: 256 }, processor: "echo" });
    await assert.rejects(unaryCall(t.client, t.client.createService, { spec: bad }), (error: ServiceError) => {
      assert.equal(error.code, status.INVALID_ARGUMENT);
      assert.match(error.details, /metadata\.instance/);
      return true;
    });
    await assert.rejects(unaryCall(t.client, t.client.createService, { spec: "{ not json" }), (error: ServiceError) => {
      assert.equal(error.code, status.INVALID_ARGUMENT);
      return true;
    });
    const afterEvents = await readEvents(t.client);
    assert.equal(afterEvents.length, before.length, "no event was written");
  });

  it("WatchEvents resumes from any position", async () => {
    await unaryCall(t.client, t.client.scaleService, { name: "foundation_demo", replicas: 0 });
    await unaryCall(t.client, t.client.stopService, { name: "foundation_demo" });
    const all = await readEvents(t.client);
    assert.ok(all.length >= 2);
    const middle = all[Math.floor(all.length / 2)]!.position;
    const tail = await readEvents(t.client, middle);
    assert.deepEqual(
      tail.map((r) => r.id),
      all.filter((r) => r.position > middle).map((r) => r.id),
    );
    const positions = all.map((r) => r.position);
    assert.deepEqual(
      positions,
      [...positions].sort((a, b) => a - b),
      "positions increase",
    );
  });

  it("`eas events` lists the log and `--follow` streams new events as they are appended", async () => {
    const cli = fileURLToPath(new URL("../../cli/bin/eas.mjs", import.meta.url));
    const listed = await run(process.execPath, [cli, "--endpoint", t.cluster.deployerAddress, "--json", "events"], { timeout: 60_000 });
    const types = listed.stdout
      .trim()
      .split("\n")
      .map((line) => (JSON.parse(line) as { type: string }).type);
    assert.ok(types.includes("eas.v1.ServiceCreated"));

    const follower = spawn(process.execPath, [
      cli,
      "--endpoint",
      t.cluster.deployerAddress,
      "events",
      "--follow",
      "--type",
      "eas.v1.Service",
    ]);
    let output = "";
    follower.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    try {
      await waitFor("the follower to print the stored ServiceCreated", () => output.includes("eas.v1.ServiceCreated"), {
        timeoutMs: 30_000,
      });
      assert.ok(!output.includes("eas.v1.ServiceScaled"));
      await unaryCall(t.client, t.client.scaleService, { name: "foundation_demo", replicas: 1 });
      await waitFor("the live ServiceScaled to be printed", () => output.includes("eas.v1.ServiceScaled"), { timeoutMs: 10_000 });
      await unaryCall(t.client, t.client.scaleService, { name: "foundation_demo", replicas: 0 });
    } finally {
      follower.kill("SIGTERM");
    }
  });

  it("a merge update keeps the replica count set by scale, and builds a new version", async () => {
    await unaryCall(t.client, t.client.scaleService, { name: "foundation_demo", replicas: 3 });
    const updated = await unaryCall(t.client, t.client.updateService, {
      name: "foundation_demo",
      spec: JSON.stringify({ metadata: { rpc: { keepalive: 6000 } } }),
      updateType: "merge",
    });
    assert.equal(updated.latestVersion, 2);
    assert.equal(updated.desiredInstances, 0, "a stopped service wants no instances");
    const versions = await unaryCall(t.client, t.client.listVersions, { name: "foundation_demo" });
    const spec = JSON.parse(versions.versions.at(-1)!.specJson) as { instance: number; rpc: { keepaliveMs: number } };
    assert.equal(spec.instance, 3, "the scaled count survives the update");
    assert.equal(spec.rpc.keepaliveMs, 6000);
    await unaryCall(t.client, t.client.scaleService, { name: "foundation_demo", replicas: 0 });
  });

  it("a service killed with SIGKILL comes back ready with the same projection state", async () => {
    for (const victim of ["billing", "deployer"]) {
      const beforeKill = await t.projections(victim);
      await t.cluster.kill(victim, "SIGKILL");
      assert.notEqual(await t.readyz(victim), 200);
      await t.cluster.restart(victim);
      await waitFor(`${victim} ready again`, async () => (await t.readyz(victim)) === 200, { timeoutMs: 60_000 });
      const afterRestart = await t.projections(victim);
      for (const [name, projection] of Object.entries(beforeKill)) {
        assert.equal(afterRestart[name]?.caughtUp, true);
        assert.equal(afterRestart[name]?.position, projection.position, `${victim}/${name} position`);
        assert.deepEqual(afterRestart[name]?.state, projection.state, `${victim}/${name} state`);
      }
    }
    const info = await unaryCall(t.client, t.client.getService, { name: "foundation_demo" });
    assert.equal(info.status, "Stopped");
  });
});

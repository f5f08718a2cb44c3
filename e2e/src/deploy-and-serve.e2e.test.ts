import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { join } from "node:path";
import { promisify } from "node:util";
import { credentials } from "@grpc/grpc-js";
import { AgentClient, SchedulerClient, unaryCall, type ServiceInfo } from "@eas/proto";
import { waitFor } from "@eas/testing";
import { startBlackBoxSubscriber, type BlackBoxSubscriber } from "./black-box-subscriber.js";
import { readEvents, startTestCluster, steadyLoad, type TestCluster } from "./cluster-harness.js";

const run = promisify(execFile);
const repoRoot = new URL("../../", import.meta.url).pathname;

/** Runs the real `eas` CLI against the test cluster: what it prints on stdout and on stderr. */
async function easOutput(t: TestCluster, ...args: string[]): Promise<{ stdout: string; stderr: string }> {
  return run(
    process.execPath,
    [join(repoRoot, "cli/bin/eas.mjs"), "--endpoint", t.cluster.deployerAddress, "--scheduler", t.cluster.schedulerAddress, ...args],
    { env: { ...process.env, NATS_URL: t.cluster.natsUrl }, timeout: 180_000 },
  );
}

/** Runs the real `eas` CLI against the test cluster; its stdout. A failure rejects with its stderr in the message. */
async function eas(t: TestCluster, ...args: string[]): Promise<string> {
  return (await easOutput(t, ...args)).stdout;
}

/** The 503 body the gateway answers for a service without a Ready instance. */
async function unavailableMessage(t: TestCluster, info: ServiceInfo): Promise<string> {
  const response = await predict(t, info, [[5.1, 3.5, 1.4, 0.2]]);
  assert.equal(response.status, 503);
  return ((await response.json()) as { error: { message: string } }).error.message;
}

/** The Iris rows with their species, from the data set the demo model was trained on. */
function irisRows(): { features: number[]; label: string }[] {
  const lines = readFileSync(join(repoRoot, "processors/onnx/demo/iris.csv"), "utf8").trim().split("\n").slice(1);
  return lines.map((line) => {
    const cells = line.split(",");
    return { features: cells.slice(0, 4).map(Number), label: cells[4]!.replace(/^Iris-/, "").trim() };
  });
}

async function predict(t: TestCluster, info: ServiceInfo, rows: number[][], token = info.token) {
  return fetch(`${t.cluster.gatewayUrl}/api/predict/${info.name}`, {
    method: "POST",
    headers: { Authorization: token, "Content-Type": "application/json" },
    body: JSON.stringify({ instances: rows }),
  });
}

describe("deploy and serve: a model goes from a spec file to answering authenticated requests", { timeout: 600_000 }, () => {
  let t: TestCluster;
  /** A subscriber in another language, on the documented subject, from the start: it must never see a token. */
  let blackBox: BlackBoxSubscriber;
  /** Every token `eas desc` showed. */
  const tokens = new Set<string>();

  before(async () => {
    t = await startTestCluster([{ nodeId: "node-1" }, { nodeId: "node-2" }]);
    blackBox = await startBlackBoxSubscriber(t.cluster.natsUrl);
  });

  after(async () => {
    blackBox?.stop();
    await t?.stop();
  });

  async function describeService(t: TestCluster, name: string): Promise<ServiceInfo> {
    const info = JSON.parse(await eas(t, "--json", "desc", name)) as ServiceInfo;
    tokens.add(info.token);
    return info;
  }

  it("deploys the ONNX demo with 2 replicas over 2 agents, and predictions are correct", async () => {
    await eas(t, "upload", join(repoRoot, "processors/onnx/demo/iris.onnx"), "obj://models/iris.onnx");
    const created = await eas(t, "create", join(repoRoot, "examples/iris-onnx.json"));
    assert.match(created, /Running \[Total: 2, Pending: 0, Running: 2\]/);
    const info = await describeService(t, "iris");
    assert.equal(info.status, "Running");
    assert.deepEqual(new Set(info.instances.map((i) => i.nodeId)), new Set(["node-1", "node-2"]), "replicas spread over both nodes");

    const rows = irisRows();
    const response = await predict(
      t,
      info,
      rows.map((r) => r.features),
    );
    assert.equal(response.status, 200);
    const body = (await response.json()) as { predictions: { label: string }[] };
    const correct = body.predictions.filter((p, i) => p.label === rows[i]!.label).length;
    assert.ok(correct / rows.length >= 0.9, `accuracy ${correct}/${rows.length}`);

    const v2 = await fetch(`${t.cluster.gatewayUrl}/api/predict/iris/v2/models/iris/infer`, {
      method: "POST",
      headers: { Authorization: info.token },
      body: JSON.stringify({ inputs: [{ name: "input", shape: [1, 4], datatype: "FP32", data: [6.7, 3.1, 5.6, 2.4] }] }),
    });
    assert.equal(v2.status, 200);
  });

  it("`eas top` shows the CPU and memory each agent measures for the instances", async () => {
    const info = await describeService(t, "iris");
    const usage = JSON.parse(await eas(t, "--json", "top", "iris")) as {
      instanceId: string;
      nodeId: string;
      cpuPercent: number;
      memoryBytes: number;
    }[];
    assert.deepEqual(new Set(usage.map((u) => u.instanceId)), new Set(info.instances.map((i) => i.instanceId)));
    for (const u of usage) {
      // An ONNX runtime process holds tens of MiB at least; 0 would mean nothing was measured.
      assert.ok(u.memoryBytes > 10 * 1024 * 1024, `${u.instanceId} memory ${u.memoryBytes}`);
      assert.ok(u.cpuPercent >= 0, `${u.instanceId} cpu ${u.cpuPercent}`);
      assert.equal(u.nodeId, info.instances.find((i) => i.instanceId === u.instanceId)?.nodeId);
    }
    assert.match(await eas(t, "top"), /iris-v1-\w+.*iris.*node-\d/);
  });

  it("`eas logs` shows what each instance wrote, from its agent", async () => {
    const info = await describeService(t, "iris");
    const logs = await eas(t, "logs", "iris", "-n", "50");
    for (const instance of info.instances) {
      // The processor kit logs a `listening` line once the model is loaded and the port is open.
      assert.match(logs, new RegExp(`^\\[${instance.instanceId}\\] .*"msg":"listening"`, "m"), logs);
    }
    const one = info.instances[0]!.instanceId;
    const only = await eas(t, "logs", "iris", "--instance", one, "-n", "5");
    const lines = only.trim().split("\n");
    assert.ok(lines.length >= 1 && lines.length <= 5, only);
    assert.ok(
      lines.every((line) => !line.startsWith(`[${one}]`)),
      "one instance's lines come without a prefix",
    );
    await assert.rejects(eas(t, "logs", "iris", "--instance", "nope"), /has no instance nope/);
  });

  it("`eas events --service` shows one service's history, its instances included", async () => {
    const lines = (await eas(t, "events", "--service", "iris")).trim().split("\n");
    assert.ok(
      lines.every((line) => / (service-iris|instance-iris-v\d+-\w+)( {2}|$)/.test(line)),
      lines.join("\n"),
    );
    assert.match(lines[0]!, /eas\.v1\.ServiceCreated\s+service-iris/);
    assert.ok(
      lines.some((line) => /eas\.v1\.InstanceReady .* endpoint=127\.0\.0\.1:\d+/.test(line)),
      "Ready events show the endpoint",
    );
  });

  it("answers bad requests with clear JSON errors", async () => {
    const info = await describeService(t, "iris");
    const wrongToken = await predict(t, info, [[1, 2, 3, 4]], "not-the-token");
    assert.equal(wrongToken.status, 401);
    assert.ok(((await wrongToken.json()) as { error: { message: string } }).error.message);
    const unknown = await fetch(`${t.cluster.gatewayUrl}/api/predict/nope`, { method: "POST", body: "{}" });
    assert.equal(unknown.status, 404);
    await unknown.body?.cancel();
    // Announce an 11 MiB body: the gateway answers 413 from the header, before any byte is sent.
    const tooLarge = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const request = httpRequest(`${t.cluster.gatewayUrl}/api/predict/iris`, {
        method: "POST",
        headers: { Authorization: info.token, "Content-Length": String(11 * 1024 * 1024) },
      });
      request.on("response", (response) => {
        let body = "";
        response.on("data", (chunk: Buffer) => (body += chunk.toString()));
        response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
      });
      request.on("error", reject);
      request.flushHeaders();
    });
    assert.equal(tooLarge.status, 413);
    assert.match(tooLarge.body, /"error"/);
  });

  it("a spec no node can fit waits with the reason, and leaves no instance behind", async () => {
    const file = join(t.dataDir, "too-big.json");
    writeFileSync(file, JSON.stringify({ name: "too_big", metadata: { instance: 1, cpu: 1, memory: 900000 }, processor: "echo" }));
    await eas(t, "create", "--no-wait", file);
    const info = await waitFor("placement reason", async () => {
      const current = await describeService(t, "too_big");
      return current.reason ? current : undefined;
    });
    assert.equal(info.status, "Waiting");
    assert.match(info.reason, /0\/2 nodes: 2 insufficient memory/);
    assert.equal(info.totalInstances, 0);
    // The gateway says the same, not "starting".
    assert.equal(await unavailableMessage(t, info), `service too_big has no ready instance (cannot be placed: ${info.reason})`);
    await eas(t, "delete", "too_big");
    await assert.rejects(eas(t, "desc", "too_big"), /NOT_FOUND/);
  });

  it("an invalid spec field is rejected by name through the CLI", async () => {
    const file = join(t.dataDir, "bad.json");
    writeFileSync(file, JSON.stringify({ name: "bad", metadata: { instance: 1, cpu: -2 }, processor: "echo" }));
    await assert.rejects(eas(t, "create", file), /INVALID_ARGUMENT: .*metadata\.cpu/);
  });

  it("answers every message of the CLI as asked (issue 6, item 8)", async () => {
    const write = (name: string, text: string) => {
      const file = join(t.dataDir, name);
      writeFileSync(file, text);
      return file;
    };
    await assert.rejects(eas(t, "top", "nosuch"), /error: NOT_FOUND: service nosuch not found/);
    await assert.rejects(eas(t, "events", "--service", "nosuch"), /error: service nosuch not found \(no event in the log names it\)/);
    await assert.rejects(eas(t, "create", write("empty.yaml", "# nothing yet\n")), /error: INVALID_ARGUMENT: the document is empty\n/);
    await assert.rejects(
      eas(t, "create", write("indent.yaml", "name: bad\nmetadata:\n  instance: 1\n   cpu: 1\n")),
      /error: INVALID_ARGUMENT: invalid YAML at line 4, column 4: "cpu" is indented more than "instance" on line 3/,
    );
    await assert.rejects(
      eas(t, "modify", "iris", "-f", write("rename.json", JSON.stringify({ name: "other" }))),
      /error: INVALID_ARGUMENT: name: cannot change the service name \("iris" to "other"\), create a new service instead\n/,
    );
    await assert.rejects(eas(t, "rollback", "iris", "7"), /error: NOT_FOUND: service iris has no version 7; versions: 1\n/);
    await assert.rejects(
      eas(t, "upload", write("f.txt", "x"), "file:///tmp/f.txt"),
      /error: upload file:\/\/\/tmp\/f.txt: the destination must be obj:\/\/bucket\/key/,
    );
  });

  it("runs an EAS container-mode spec as is, says what it does not do, and answers through `eas invoke`", async () => {
    const created = await easOutput(t, "create", join(repoRoot, "examples/container-echo.yaml"));
    assert.match(created.stdout, /Running \[Total: 1, Pending: 0, Running: 1\]/);
    assert.match(
      created.stderr,
      /^warning: containers\[0\]\.image: recorded only: the process driver runs the command on the node, not in this image$/m,
    );
    const answer = await eas(t, "invoke", "hello_http", "-d", "{}");
    assert.deepEqual(JSON.parse(answer), { hello: "world" });

    // scale 0: a state that tells nothing is serving, at `eas desc` and at the gateway.
    assert.match(
      await eas(t, "scale", "hello_http", "0"),
      /hello_http scaled to 0: Stopped \[Total: 0, Pending: 0, Running: 0\] scaled to zero/,
    );
    const zero = await describeService(t, "hello_http");
    assert.deepEqual([zero.status, zero.reason, zero.desiredInstances], ["Stopped", "scaled to zero", 0]);
    assert.equal((JSON.parse(zero.specJson) as { instance?: number }).instance, 0, "spec_json agrees with desired_instances");
    const message = await waitFor("the gateway to know", async () => {
      const text = await unavailableMessage(t, zero);
      return text.includes("scaled to zero") ? text : undefined;
    });
    assert.equal(message, "service hello_http has no ready instance (scaled to zero)");
    await eas(t, "delete", "hello_http");
  });

  it("the reconciler survives its own restart without duplicating or orphaning instances", async () => {
    await eas(t, "scale", "--no-wait", "iris", "3");
    await t.cluster.kill("deployer", "SIGKILL");
    await t.cluster.restart("deployer");
    await waitFor("deployer ready", async () => (await t.readyz("deployer")) === 200, { timeoutMs: 60_000 });
    await waitFor(
      "3 instances Running",
      async () => {
        const info = await describeService(t, "iris");
        return info.status === "Running" && info.runningInstances === 3;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    await new Promise((r) => setTimeout(r, 2_000));
    const info = await describeService(t, "iris");
    assert.equal(info.totalInstances, 3, "no duplicate instances");
    const scheduler = new SchedulerClient(t.cluster.schedulerAddress, credentials.createInsecure());
    const { nodes } = await unaryCall(scheduler, scheduler.listNodes, {});
    scheduler.close();
    assert.equal(
      nodes.reduce((sum, n) => sum + n.instanceCount, 0),
      3,
      "no orphaned placements",
    );
    await eas(t, "scale", "iris", "2");
  });

  it("replaces a killed instance process", async () => {
    const before = await describeService(t, "iris");
    const victim = before.instances[0]!;
    const scheduler = new SchedulerClient(t.cluster.schedulerAddress, credentials.createInsecure());
    const { nodes } = await unaryCall(scheduler, scheduler.listNodes, {});
    scheduler.close();
    const agentAddress = nodes.find((n) => n.nodeId === victim.nodeId)!.agentAddress;
    const agent = new AgentClient(agentAddress, credentials.createInsecure());
    const { instances } = await unaryCall(agent, agent.listInstances, {});
    agent.close();
    const running = instances.find((i) => i.instanceId === victim.instanceId)!;
    const pid = running.pid;
    assert.ok(pid > 0);
    assert.ok(running.memoryBytes > 0, "the agent reports the instance's memory");
    process.kill(pid, "SIGKILL");
    await waitFor(
      "the instance restarted and Ready",
      async () => {
        const info = await describeService(t, "iris");
        const instance = info.instances.find((i) => i.instanceId === victim.instanceId);
        return info.status === "Running" && instance && instance.restartCount >= 1 && instance.status === "Ready";
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const exited = await readEvents(t.client, 0, "eas.v1.InstanceExited");
    assert.ok(exited.some((e) => e.stream === `instance-${victim.instanceId}`));
  });

  it("moves a lost agent's instances to the other node", async () => {
    const before = await describeService(t, "iris");
    const lostNode = before.instances[0]!.nodeId;
    const otherNode = lostNode === "node-1" ? "node-2" : "node-1";
    await t.cluster.kill(`agent-${lostNode}`, "SIGKILL");
    await waitFor(
      "instances running on the other node",
      async () => {
        const info = await describeService(t, "iris");
        return info.status === "Running" && info.instances.length === 2 && info.instances.every((i) => i.nodeId === otherNode);
      },
      { timeoutMs: 90_000, intervalMs: 500 },
    );
    const lost = await readEvents(t.client, 0, "eas.v1.NodeLost");
    assert.ok(lost.some((e) => e.stream === `node-${lostNode}`));
    await t.cluster.restart(`agent-${lostNode}`);
    await waitFor("agent back", async () => (await t.readyz(`agent-${lostNode}`)) === 200, { timeoutMs: 60_000 });
  });

  it("updates to a new version under load with zero failed requests, then rolls back", async () => {
    const info = await describeService(t, "iris");
    const load = steadyLoad(t, info, { instances: [[5.1, 3.5, 1.4, 0.2]] });
    await new Promise((r) => setTimeout(r, 500));
    const patch = join(t.dataDir, "patch.json");
    writeFileSync(patch, JSON.stringify({ metadata: { rpc: { keepalive: 6000 } } }));
    const updated = await eas(t, "modify", "iris", "-f", patch);
    assert.match(updated, /version 2/);
    // The CLI printed each status it saw while it waited: the old version serves during the rollout and
    // counts as Running, so no line says fewer than the 2 wanted (nor Waiting, which is for unschedulable).
    const progress = [...updated.matchAll(/^(\w+) \[Total: (\d+), Pending: (\d+), Running: (\d+)\]/gm)].map((m) => ({
      status: m[1]!,
      running: Number(m[4]),
      line: m[0],
    }));
    assert.ok(
      progress.some((p) => p.status === "Updating"),
      updated,
    );
    for (const p of progress) {
      assert.ok(p.status === "Updating" || p.status === "Running", p.line);
      assert.ok(p.running >= 2, `${p.line}: the old version's instances serve and count`);
    }
    await waitFor(
      "all instances on version 2",
      async () => {
        const current = await describeService(t, "iris");
        return current.status === "Running" && current.instances.length === 2 && current.instances.every((i) => i.version === 2);
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    const { ok, failures } = await load.stop();
    assert.deepEqual(failures, [], `${failures.length} failed of ${ok + failures.length}`);
    assert.ok(ok > 20, `only ${ok} requests went through`);

    const versions = JSON.parse(await eas(t, "--json", "versions", "iris")) as { version: number; current: boolean }[];
    assert.deepEqual(
      versions.map((v) => [v.version, v.current]),
      [
        [1, false],
        [2, true],
      ],
    );
    await assert.rejects(eas(t, "rollback", "iris", "7"), /error: NOT_FOUND: service iris has no version 7; versions: 1, 2\n/);
    await eas(t, "rollback", "iris", "1");
    const back = await waitFor(
      "back on version 1",
      async () => {
        const current = await describeService(t, "iris");
        return current.status === "Running" && current.currentVersion === 1 && current.instances.every((i) => i.version === 1)
          ? current
          : undefined;
      },
      { timeoutMs: 120_000, intervalMs: 250 },
    );
    // Replicas belong to the service: desc's spec says what desired_instances says.
    assert.equal((JSON.parse(back.specJson) as { instance: number }).instance, back.desiredInstances);
  });

  it("stops, starts and deletes", async () => {
    assert.match(await eas(t, "stop", "iris"), /^stop: iris is Stopping$/m);
    const stopped = await waitFor(
      "stopped",
      async () => {
        const info = await describeService(t, "iris");
        return info.status === "Stopped" ? info : undefined;
      },
      { timeoutMs: 60_000 },
    );
    assert.equal(stopped.totalInstances, 0);
    assert.equal(await unavailableMessage(t, stopped), "service iris has no ready instance (stopped)");

    await eas(t, "start", "iris");
    const started = await waitFor(
      "running again",
      async () => {
        const info = await describeService(t, "iris");
        return info.status === "Running" ? info : undefined;
      },
      { timeoutMs: 60_000 },
    );
    const response = await predict(t, started, [[5.1, 3.5, 1.4, 0.2]]);
    assert.equal(response.status, 200);
    await response.body?.cancel();

    await eas(t, "delete", "iris");
    await assert.rejects(eas(t, "desc", "iris"), /NOT_FOUND/);
    await waitFor(
      "no instances left on the agents",
      async () => {
        const scheduler = new SchedulerClient(t.cluster.schedulerAddress, credentials.createInsecure());
        const { nodes } = await unaryCall(scheduler, scheduler.listNodes, {});
        scheduler.close();
        return nodes.every((n) => n.instanceCount === 0);
      },
      { timeoutMs: 60_000 },
    );
    const gone = await predict(t, started, [[5.1, 3.5, 1.4, 0.2]]);
    assert.equal(gone.status, 404);
    await gone.body?.cancel();
  });

  it("no event on the documented subject carries a token (a Python subscriber saw every one of this run)", () => {
    const created = blackBox.messages.filter((m) => m.headers["ce-type"] === "eas.v1.ServiceCreated");
    assert.ok(created.length >= 3, `the subscriber saw ${created.length} ServiceCreated`);
    assert.ok(tokens.size >= 3);
    for (const message of blackBox.messages) {
      for (const token of tokens) assert.ok(!message.data.includes(token), `${message.subject} carries a token: ${message.data}`);
      assert.doesNotMatch(message.data, /"token"\s*:\s*"[^"]/, message.data);
    }
  });
});

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { credentials } from "@grpc/grpc-js";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { connectJetStreamEventStore, type EventStore } from "@eas/event-store";
import { decodeEvent, instanceStream, type EasEvent } from "@eas/events";
import { AgentClient, ServiceSpec, unaryCall, type AgentInstance } from "@eas/proto";
import { freePort, startNatsServer, waitFor, type NatsServerHandle } from "@eas/testing";
import { groupPids } from "../runtime/process-group.js";
import { isAlive } from "../testing/processes.js";

const here = dirname(fileURLToPath(import.meta.url));
const AGENT_PACKAGE = join(here, "..", "..");
const FIXTURE = join(here, "..", "runtime", "fixtures", "server.mjs");
const NODE_ID = "node-r";
const WAIT = { timeoutMs: 30_000 };

interface AgentProcess {
  child: ChildProcess;
  client: AgentClient;
  exited: Promise<void>;
  output: () => string;
}

/**
 * An agent restart as it happens on a node: the real agent process (main.ts, as the local cluster
 * starts it) is killed with SIGKILL, which its instances, each in its own process group, survive;
 * a new agent process then starts over the same data folder.
 */
describe("agent restart: instances left by a killed agent", () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let store: EventStore;
  let work: string;
  let schedulerAddress: string;
  const agents: AgentProcess[] = [];
  const leftovers: number[] = [];

  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    store = await connectJetStreamEventStore({ nc });
    work = await mkdtemp(join(tmpdir(), "eas-agent-restart-"));
    // Nothing listens there: the agents keep retrying registration, which these tests do not need.
    schedulerAddress = `127.0.0.1:${await freePort()}`;
  });

  after(async () => {
    for (const agent of agents) {
      agent.client.close();
      if (agent.child.exitCode === null && agent.child.signalCode === null) agent.child.kill("SIGKILL");
      await agent.exited;
    }
    // Whatever a failed run left behind (the test spawned these groups, directly or through an agent).
    for (const pgid of leftovers) {
      try {
        process.kill(-pgid, "SIGKILL");
      } catch {
        // Gone, as it should be.
      }
    }
    await store?.close();
    await nc?.close();
    await nats?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  async function startAgent(): Promise<AgentProcess> {
    const grpcPort = await freePort();
    const child = spawn(
      process.execPath,
      ["--conditions=source", "--import", "tsx", "--import", "@eas/telemetry/register", join(AGENT_PACKAGE, "src", "main.ts")],
      {
        cwd: AGENT_PACKAGE,
        env: {
          ...process.env,
          NATS_URL: nats.url,
          EAS_DATA_DIR: join(work, "data"),
          EAS_NODE_ID: NODE_ID,
          EAS_GRPC_PORT: String(grpcPort),
          EAS_HTTP_PORT: String(await freePort()),
          EAS_SCHEDULER_ADDR: schedulerAddress,
          EAS_LOG_LEVEL: "warn",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    const client = new AgentClient(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
    const agent = { child, client, exited, output: () => output };
    agents.push(agent);
    // The agent reaps what a previous run left before it serves its API: answering means reaping is done.
    await waitFor("the agent's API", () => unaryCall(client, client.listInstances, {}, 1_000).then(() => true), WAIT).catch(
      (error: unknown) => {
        throw new Error(`${String(error)}\nagent output:\n${output}`);
      },
    );
    return agent;
  }

  const list = async (agent: AgentProcess): Promise<AgentInstance[]> =>
    (await unaryCall(agent.client, agent.client.listInstances, {}, 5_000)).instances;
  const instanceDir = (instanceId: string) => join(work, "data", "agents", NODE_ID, "instances", instanceId);
  const pidFile = (instanceId: string) => join(instanceDir(instanceId), "pid.json");
  const events = async (instanceId: string): Promise<EasEvent[]> =>
    (await store.readStream(instanceStream(instanceId))).map((recorded) => decodeEvent(recorded)).filter((e) => e !== undefined);

  function fixtureSpec(prelude = ""): ServiceSpec {
    return ServiceSpec.fromPartial({
      name: "svc",
      runtime: {
        $case: "container",
        value: {
          command: `${prelude}exec ${process.execPath} ${FIXTURE}`,
          port: 8000,
          readiness: { kind: "http", path: "/ready", periodMs: 100 },
        },
      },
    });
  }

  it("the new agent takes over a live instance (moved, then stopped on request), fails the dead ones, and spares a reused pid", async () => {
    const first = await startAgent();
    const sleeperFile = join(work, "kept.sleeper");
    // "kept" has a shell child in its group besides the server; "reused" has its pid taken by an unrelated process below.
    for (const [instanceId, spec] of [
      ["kept", fixtureSpec(`sleep 300 & echo $! > ${sleeperFile}; `)],
      ["reused", fixtureSpec()],
    ] as const) {
      await unaryCall(first.client, first.client.startInstance, { instanceId, service: "svc", version: 1, spec }, 10_000);
    }
    const ready = await waitFor(
      "both instances Ready",
      async () => {
        const instances = await list(first);
        return instances.length === 2 && instances.every((instance) => instance.status === "Ready") ? instances : undefined;
      },
      WAIT,
    );
    const pidOf = (instanceId: string) => ready.find((instance) => instance.instanceId === instanceId)!.pid;
    const kept = pidOf("kept");
    const reused = pidOf("reused");
    leftovers.push(kept, reused);
    const sleeper = Number(readFileSync(sleeperFile, "utf8"));
    assert.equal((JSON.parse(readFileSync(pidFile("kept"), "utf8")) as { pid: number }).pid, kept, "pid.json names the group");
    const endpoint = ready.find((instance) => instance.instanceId === "kept")!.endpoint;

    first.child.kill("SIGKILL");
    await first.exited;
    assert.ok(isAlive(kept) && isAlive(sleeper) && isAlive(reused), "precondition: the instances outlive the killed agent");
    assert.equal((await groupPids(kept)).length, 2);

    // While no agent runs, "reused" dies and an unrelated process (its own group leader) gets its pid.
    process.kill(-reused, "SIGKILL");
    await waitFor("the reused instance's group gone", async () => (await groupPids(reused)).length === 0, WAIT);
    const bystander = spawn("sleep", ["300"], { detached: true, stdio: "ignore" });
    const bystanderPid = bystander.pid!;
    leftovers.push(bystanderPid);
    const record = JSON.parse(readFileSync(pidFile("reused"), "utf8")) as Record<string, unknown>;
    writeFileSync(pidFile("reused"), JSON.stringify({ ...record, pid: bystanderPid }));

    // A third instance was still fetching its storage when the agent died: a folder whose record has no pid yet.
    mkdirSync(instanceDir("fetching"), { recursive: true });
    writeFileSync(pidFile("fetching"), JSON.stringify({ service: "svc" }));

    const second = await startAgent();
    // The live one keeps serving, taken over, and is asked to move: replaced elsewhere before it is stopped.
    assert.deepEqual(
      (await list(second)).map((i) => [i.instanceId, i.status, i.pid]),
      [["kept", "Ready", kept]],
    );
    assert.equal(await fetch(`http://${endpoint}/ready`).then((r) => r.status), 200, "it still answers");
    const keptEvents = await events("kept");
    assert.deepEqual(
      keptEvents.map((e) => e.type),
      ["eas.v1.InstanceStarting", "eas.v1.InstanceReady", "eas.v1.InstanceMoveRequested"],
    );
    const move = keptEvents.at(-1)!;
    assert.equal(move.type === "eas.v1.InstanceMoveRequested" && move.data.cause, "orphaned");
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(isAlive(bystanderPid), true, "the process that reused the pid is not killed");

    for (const instanceId of ["reused", "fetching"]) {
      const recorded = await events(instanceId);
      const failed = recorded.at(-1)!;
      assert.equal(failed.type, "eas.v1.InstanceFailed", `${instanceId}: reported Failed by the new agent`);
      assert.equal(failed.type === "eas.v1.InstanceFailed" && failed.data.reason, `agent on ${NODE_ID} restarted`);
      assert.equal(existsSync(instanceDir(instanceId)), false, `${instanceId}'s folder is removed`);
    }

    // Its replacement serves: the deployer stops it through the new agent, the whole group gracefully.
    await unaryCall(second.client, second.client.stopInstance, { instanceId: "kept", gracePeriodMs: 5_000 }, 15_000);
    await waitFor("the kept instance's group gone", async () => (await groupPids(kept)).length === 0, WAIT);
    assert.equal(isAlive(sleeper), false, "the shell's child in the group was stopped too");
    assert.equal((await events("kept")).at(-1)?.type, "eas.v1.InstanceStopped");
    assert.equal(existsSync(instanceDir("kept")), false);
    assert.deepEqual(await list(second), []);
    bystander.kill("SIGKILL");
  });

  it("an instance taken over that dies on its own is reported Failed", async () => {
    const first = await startAgent();
    await unaryCall(
      first.client,
      first.client.startInstance,
      { instanceId: "frail", service: "svc", version: 1, spec: fixtureSpec() },
      10_000,
    );
    const [started] = await waitFor(
      "frail Ready",
      async () => {
        const instances = await list(first);
        return instances[0]?.status === "Ready" ? instances : undefined;
      },
      WAIT,
    );
    leftovers.push(started!.pid);
    first.child.kill("SIGKILL");
    await first.exited;
    const second = await startAgent();
    assert.equal((await list(second))[0]?.instanceId, "frail");
    process.kill(-started!.pid, "SIGKILL");
    await waitFor("frail reported Failed", async () => (await events("frail")).at(-1)?.type === "eas.v1.InstanceFailed", WAIT);
    await waitFor("frail no longer listed", async () => (await list(second)).length === 0, WAIT);
  });
});

import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { Objm } from "@nats-io/obj";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { connectJetStreamEventStore, type EventStore } from "@eas/event-store";
import { decodeEvent, instanceStream, type EasEvent } from "@eas/events";
import { uploadToObjectStore } from "@eas/object-store";
import { AgentClient, AgentService, ServiceSpec, unaryCall, type AgentInstance, type StartInstanceRequest } from "@eas/proto";
import { executeCommand, startGrpcServer, type GrpcServerHandle } from "@eas/service-kit";
import { InstanceCommandType, instanceLifecycleDecider } from "@eas/instance-lifecycle";
import { createLogger } from "@eas/telemetry";
import { startNatsServer, waitFor, type NatsServerHandle } from "@eas/testing";
import { InstanceSupervisor } from "../instances/supervisor.js";
import { ProcessDriver } from "../runtime/index.js";
import { groupPids } from "../runtime/process-group.js";
import { createStorageFetcher, digestKey, type ObjectStoreLike, type ObjectStoreOpener } from "../storage/index.js";
import { createAgentApi } from "./agent-api.js";
import { isAlive } from "../testing/processes.js";

const here = dirname(fileURLToPath(import.meta.url));
const FIXTURE = join(here, "..", "runtime", "fixtures", "server.mjs");
const REPO_ROOT = join(here, "..", "..", "..", "..");
const NODE = process.execPath;
const WAIT = { timeoutMs: 20_000 };

/**
 * The real NATS Object Store client, with a gate in front of `open`: a test holds the gate to keep
 * an instance's model fetch in progress for as long as it needs, instead of racing a large download.
 */
class GatedObjectStore implements ObjectStoreOpener {
  readonly #inner: Objm;
  #gate: Promise<void> = Promise.resolve();
  waiting = 0;
  constructor(nc: NatsConnection) {
    this.#inner = new Objm(nc);
  }
  hold(): () => void {
    let release!: () => void;
    this.#gate = new Promise((resolve) => (release = resolve));
    return () => {
      this.#gate = Promise.resolve();
      release();
    };
  }
  async open(bucket: string): Promise<ObjectStoreLike> {
    this.waiting++;
    try {
      await this.#gate;
    } finally {
      this.waiting--;
    }
    return await this.#inner.open(bucket);
  }
}

describe("Agent API over gRPC, with the real supervisor, process driver and NATS", () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let store: EventStore;
  let objects: GatedObjectStore;
  let work: string;
  let nodeDir: string;
  let cacheDir: string;
  let supervisor: InstanceSupervisor;
  let server: GrpcServerHandle;
  let client: AgentClient;

  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    store = await connectJetStreamEventStore({ nc });
    objects = new GatedObjectStore(nc);
    work = await mkdtemp(join(tmpdir(), "eas-agent-api-"));
    nodeDir = join(work, "agents", "node-t");
    cacheDir = join(nodeDir, "cache");
    // A scratch checkout with one processor (the runtime's TypeScript fixture), tsx linked in from this one.
    const repoRoot = join(work, "repo");
    await mkdir(join(repoRoot, "processors", "fixture", "src"), { recursive: true });
    await mkdir(join(repoRoot, "node_modules"), { recursive: true });
    await writeFile(join(repoRoot, "package.json"), JSON.stringify({ type: "module", private: true }));
    await symlink(join(REPO_ROOT, "node_modules", "tsx"), join(repoRoot, "node_modules", "tsx"));
    await copyFile(join(here, "..", "runtime", "fixtures", "processor-main.ts"), join(repoRoot, "processors", "fixture", "src", "main.ts"));

    const logger = createLogger({ name: "agent-api-test", level: "silent" });
    supervisor = new InstanceSupervisor({
      nodeId: "node-t",
      store,
      driver: new ProcessDriver({ restartPolicy: { baseMs: 100, capMs: 400 }, killGracePeriodMs: 1_000 }),
      storage: createStorageFetcher({ cacheDir, objectStore: objects }),
      nodeDir,
      repoRoot,
      logger,
      source: "eas/agent/node-t",
    });
    server = await startGrpcServer([{ definition: AgentService, implementation: createAgentApi(supervisor, logger) }], "127.0.0.1", 0);
    client = new AgentClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
  });

  after(async () => {
    client?.close();
    await server?.stop(1_000);
    await supervisor?.stopAll(0);
    await store?.close();
    await nc?.close();
    await nats?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  const startInstance = (request: Partial<StartInstanceRequest>): Promise<AgentInstance> =>
    unaryCall(client, client.startInstance, { instanceId: "", service: "svc", version: 1, spec: undefined, ...request }, 10_000);
  const start = (instanceId: string, spec: ServiceSpec) => startInstance({ instanceId, spec });
  const stop = (instanceId: string, gracePeriodMs = 5_000): Promise<AgentInstance> =>
    unaryCall(client, client.stopInstance, { instanceId, gracePeriodMs }, 30_000);
  const list = async (): Promise<AgentInstance[]> => (await unaryCall(client, client.listInstances, {}, 10_000)).instances;
  const listed = async (instanceId: string) => (await list()).find((instance) => instance.instanceId === instanceId);
  const instanceDir = (instanceId: string) => join(nodeDir, "instances", instanceId);
  const events = async (instanceId: string): Promise<EasEvent[]> =>
    (await store.readStream(instanceStream(instanceId))).map((recorded) => decodeEvent(recorded)).filter((e) => e !== undefined);
  const types = async (instanceId: string) => (await events(instanceId)).map((e) => e.type.replace("eas.v1.", ""));
  const untilEvent = (instanceId: string, type: string) =>
    waitFor(`${instanceId} ${type}`, async () => (await events(instanceId)).find((e) => e.type === `eas.v1.${type}`), WAIT);
  /** Lines each run of an instance's command appended to `<work>/<name>.starts`: one per process started. */
  const starts = (name: string) => {
    const file = join(work, `${name}.starts`);
    return existsSync(file) ? readFileSync(file, "utf8").trim().split("\n").map(Number) : [];
  };

  /** A container spec running the HTTP fixture; it records each start, and answers /ready only once readyDelayMs passed. */
  function fixtureSpec(
    name: string,
    options: { readyDelayMs?: number; prelude?: string; storage?: ServiceSpec["storage"] } = {},
  ): ServiceSpec {
    return ServiceSpec.fromPartial({
      name: "svc",
      runtime: {
        $case: "container",
        value: {
          command: `${options.prelude ?? ""}echo $$ >> ${join(work, `${name}.starts`)}; exec ${NODE} ${FIXTURE}`,
          port: 8000,
          env: [{ name: "FIXTURE_READY_DELAY_MS", value: String(options.readyDelayMs ?? 0) }],
          readiness: { kind: "http", path: "/ready", periodMs: 100 },
        },
      },
      storage: options.storage ?? [],
    });
  }

  async function rejectsWith(promise: Promise<unknown>, code: status, pattern: RegExp): Promise<void> {
    await assert.rejects(promise, (error: ServiceError) => {
      assert.equal(error.code, code, `gRPC status ${error.code} (${error.details})`);
      assert.match(error.details, pattern);
      return true;
    });
  }

  it("StartInstance sent five times at once, then twice more, runs one process and reports one lifecycle", async () => {
    const id = "dup-1";
    const spec = fixtureSpec(id);
    const answers = await Promise.all(Array.from({ length: 5 }, () => start(id, spec)));
    assert.deepEqual(
      answers.map((answer) => [answer.instanceId, answer.service]),
      Array.from({ length: 5 }, () => [id, "svc"]),
    );
    const ready = await waitFor("dup-1 Ready", async () => ((await listed(id))?.status === "Ready" ? await listed(id) : undefined), WAIT);
    const later = [await start(id, spec), await start(id, spec)];
    assert.deepEqual(
      later.map((answer) => [answer.status, answer.pid]),
      [
        ["Ready", ready.pid],
        ["Ready", ready.pid],
      ],
      "a repeated start answers the running instance",
    );
    assert.deepEqual(starts(id), [ready.pid], "exactly one process was started");
    assert.equal((await list()).filter((instance) => instance.instanceId === id).length, 1);
    await untilEvent(id, "InstanceReady");
    assert.deepEqual(await types(id), ["InstanceStarting", "InstanceReady"]);

    assert.equal((await stop(id)).status, "Stopped");
    assert.deepEqual(await types(id), ["InstanceStarting", "InstanceReady", "InstanceStopped"]);
    assert.deepEqual(starts(id), [ready.pid], "stopping did not start anything either");
  });

  it("InstanceLogs returns the last lines of stdout and stderr, oldest first; unknown ids are NOT_FOUND", async () => {
    const id = "logs-1";
    await start(id, fixtureSpec(id));
    await waitFor("logs-1 Ready", async () => (await listed(id))?.status === "Ready", WAIT);
    const logs = (lines = 0) => unaryCall(client, client.instanceLogs, { instanceId: id, lines }, 10_000);
    const all = (await logs()).lines;
    // The fixture prints its listening line on stdout, then one line on stderr.
    const listening = all.findIndex((line) => line.stream === "stdout" && /listening on/.test(line.text));
    const stderr = all.findIndex((line) => line.stream === "stderr" && line.text === "a line on stderr");
    assert.ok(listening >= 0 && stderr > listening, JSON.stringify(all));
    assert.ok(
      all.every((line) => !Number.isNaN(Date.parse(line.at))),
      "each line has its time",
    );
    assert.deepEqual((await logs(1)).lines, all.slice(-1), "lines: 1 is the last line");

    await rejectsWith(unaryCall(client, client.instanceLogs, { instanceId: "nope", lines: 0 }, 10_000), status.NOT_FOUND, /nope/);
    await rejectsWith(
      unaryCall(client, client.instanceLogs, { instanceId: "", lines: 0 }, 10_000),
      status.INVALID_ARGUMENT,
      /instance_id: is required/,
    );
    await rejectsWith(logs(5_000), status.INVALID_ARGUMENT, /lines: must be at most 1000/);
    await stop(id);
  });

  it("StopInstance before the readiness probe passes ends the whole process group and reports Stopped, never Ready", async () => {
    const id = "stop-unready";
    // A background child of the shell in the instance's process group, which a stop must end as well.
    const spec = fixtureSpec(id, { readyDelayMs: 600_000, prelude: `sleep 300 & echo $! > ${join(work, "stop-unready.sleeper")}; ` });
    assert.equal((await start(id, spec)).status, "Starting");
    const starting = await untilEvent(id, "InstanceStarting");
    const pgid = await waitFor("the process", async () => (await listed(id))?.pid || undefined, WAIT);
    const sleeper = await waitFor("the sleeper", () => Number(readFileSync(join(work, "stop-unready.sleeper"), "utf8")) || undefined, WAIT);
    assert.ok(isAlive(sleeper) && (await groupPids(pgid)).length >= 2, "precondition: the shell's child runs in the group");
    assert.equal(starting.type === "eas.v1.InstanceStarting" && starting.data.nodeId, "node-t");

    const answer = await stop(id, 2_000);
    assert.equal(answer.status, "Stopped");
    assert.deepEqual(await groupPids(pgid), [], "no process of the instance's group is left");
    assert.equal(isAlive(sleeper), false);
    assert.equal(await listed(id), undefined);
    assert.equal(existsSync(instanceDir(id)), false, "the instance folder is removed");
    // Whatever was in flight (a readiness probe) has settled by now: still no Ready.
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.deepEqual(await types(id), ["InstanceStarting", "InstanceStopped"]);
  });

  it("an instance drained while it starts is never reported Ready: the refused Ready makes the agent stop it", async () => {
    const id = "drained-starting";
    assert.equal((await start(id, fixtureSpec(id, { readyDelayMs: 1_500 }))).status, "Starting");
    await untilEvent(id, "InstanceStarting");
    const pgid = await waitFor("the process", async () => (await listed(id))?.pid || undefined, WAIT);
    // The deployer's side of the race: the service is stopped while this instance is still starting.
    await executeCommand({
      store,
      stream: instanceStream(id),
      decider: instanceLifecycleDecider,
      command: { type: InstanceCommandType.DrainInstance, instanceId: id, service: "svc", now: new Date().toISOString() },
      source: "test/deployer",
    });
    await untilEvent(id, "InstanceStopped");
    assert.deepEqual(await types(id), ["InstanceStarting", "InstanceDraining", "InstanceStopped"], "no Ready after Draining");
    await waitFor("the instance gone from the agent", async () => (await listed(id)) === undefined, WAIT);
    assert.deepEqual(await groupPids(pgid), [], "its process was stopped");
  });

  it("StopInstance while the model is still being fetched reports Stopped, starts nothing and leaves no folder", async () => {
    const id = "stop-fetching";
    await writeFile(join(work, "weights.bin"), "weights");
    const [uploaded] = await uploadToObjectStore(nc, join(work, "weights.bin"), "obj://models/weights.bin");
    assert.ok(uploaded);
    const spec = fixtureSpec(id, { storage: [{ mountPath: "/eas/model", source: "obj://models/weights.bin", readOnly: true }] });
    const release = objects.hold();
    let released = false;
    try {
      assert.equal((await start(id, spec)).status, "Starting");
      await waitFor("the fetch to be in progress", () => objects.waiting > 0, WAIT);
      // Recorded before the fetch, so an agent crash now would still report the instance at the next start.
      const record = JSON.parse(readFileSync(join(instanceDir(id), "pid.json"), "utf8")) as { pid?: number; service: string };
      assert.equal(record.pid, undefined, "no process yet");
      assert.ok(record.service, "the record names the service for the Failed event");
      const stopping = stop(id, 2_000);
      await untilEvent(id, "InstanceStopped");
      release();
      released = true;
      assert.equal((await stopping).status, "Stopped");
    } finally {
      if (!released) release();
    }
    // The fetch that was held finishes into the cache; nothing may be laid out for the stopped instance.
    await waitFor("the object in the cache", () => existsSync(join(cacheDir, "objects", digestKey({ ...uploaded, nuid: "" }))), WAIT);
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(existsSync(instanceDir(id)), false, "no half-made instance folder");
    assert.deepEqual(starts(id), [], "no process was started");
    assert.equal(await listed(id), undefined);
    const recorded = await events(id);
    assert.deepEqual(
      recorded.map((e) => e.type),
      ["eas.v1.InstanceStopped"],
    );
    assert.equal(recorded[0]?.type === "eas.v1.InstanceStopped" && recorded[0].data.reason, "stopped before it started");
  });

  it("StopInstance during a fetch longer than the grace period answers after the grace period; the folder goes once the fetch ends", async () => {
    const id = "stop-long-fetch";
    await writeFile(join(work, "big.bin"), "a large model");
    await uploadToObjectStore(nc, join(work, "big.bin"), "obj://models/big.bin");
    const spec = fixtureSpec(id, { storage: [{ mountPath: "/eas/model", source: "obj://models/big.bin", readOnly: true }] });
    const release = objects.hold();
    try {
      await start(id, spec);
      await waitFor("the fetch to be in progress", () => objects.waiting > 0, WAIT);
      // The fetch is held far past the grace period: the stop must not wait for it.
      assert.equal((await stop(id, 300)).status, "Stopped");
      assert.equal(await listed(id), undefined, "the agent no longer lists it");
      assert.ok(existsSync(instanceDir(id)), "precondition: the launch still owns its folder");
    } finally {
      release();
    }
    await waitFor("the folder removed once the launch gave up", () => !existsSync(instanceDir(id)), WAIT);
    assert.deepEqual(starts(id), [], "no process was started");
    assert.deepEqual(await types(id), ["InstanceStopped"]);
  });

  it("StopInstance of an unknown instance is NOT_FOUND (the deployer then records it Stopped) and writes nothing", async () => {
    await rejectsWith(stop("never-started"), status.NOT_FOUND, /never-started/);
    assert.deepEqual(await types("never-started"), []);

    // A stop repeated after a lost answer: the first ends it, the second finds nothing to stop.
    const id = "stop-twice";
    await start(id, fixtureSpec(id));
    await untilEvent(id, "InstanceReady");
    assert.equal((await stop(id)).status, "Stopped");
    await rejectsWith(stop(id), status.NOT_FOUND, /stop-twice/);
    assert.deepEqual(await types(id), ["InstanceStarting", "InstanceReady", "InstanceStopped"]);
  });

  it("StartInstance whose model source does not exist fails naming the source; the failed id stays ended, a new one runs after the upload", async () => {
    await writeFile(join(work, "present.bin"), "present");
    await uploadToObjectStore(nc, join(work, "present.bin"), "obj://models/present.bin");
    for (const [id, source, detail] of [
      ["no-bucket", "obj://nope/x", /storage obj:\/\/nope\/x: bucket "nope" not found/],
      ["no-object", "obj://models/missing.onnx", /storage obj:\/\/models\/missing\.onnx: object "missing\.onnx" not found/],
    ] as const) {
      const spec = ServiceSpec.fromPartial({ name: "svc", runtime: { $case: "processor", value: { name: "fixture", modelPath: source } } });
      assert.equal((await start(id, spec)).status, "Starting");
      const failed = await untilEvent(id, "InstanceFailed");
      assert.match(failed.type === "eas.v1.InstanceFailed" ? failed.data.reason : "", detail);
      assert.deepEqual(await types(id), ["InstanceFailed"]);
      await waitFor(`${id} gone from the list`, async () => (await listed(id)) === undefined, WAIT);
      assert.equal(existsSync(instanceDir(id)), false, `no half-made folder is left for ${id}`);

      await writeFile(join(work, `${id}.onnx`), `model of ${id}`);
      await uploadToObjectStore(nc, join(work, `${id}.onnx`), source);
      // An instance id lives once: the failed one is not brought back, the retry is a new instance (as the deployer does).
      await assert.rejects(start(id, spec), (error: { code?: number; details?: string }) => {
        assert.equal(error.code, status.FAILED_PRECONDITION);
        assert.match(error.details ?? "", /has ended \(Failed\); start a new instance id/);
        return true;
      });
      assert.deepEqual(await types(id), ["InstanceFailed"], "nothing follows Failed");
      const retry = `${id}-retry`;
      assert.equal((await start(retry, spec)).status, "Starting");
      await untilEvent(retry, "InstanceReady");
      const endpoint = (await listed(retry))?.endpoint;
      const body = (await (await fetch(`http://${endpoint}/`)).json()) as { model: string };
      assert.equal(body.model, `model of ${id}`);
      assert.deepEqual(await types(retry), ["InstanceStarting", "InstanceReady"]);
      assert.equal((await stop(retry)).status, "Stopped");
    }
  });

  it("refuses malformed StartInstance and StopInstance requests with INVALID_ARGUMENT naming the field, starting nothing", async () => {
    const good = fixtureSpec("bad-requests");
    const container = (patch: Record<string, unknown>, storage: ServiceSpec["storage"] = []) =>
      ServiceSpec.fromPartial({
        name: "svc",
        runtime: { $case: "container", value: { command: "exec sleep 300", port: 8000, ...patch } },
        storage,
      });
    const mount = (mountPath: string, source = "empty_dir://") => ({ mountPath, source, readOnly: false });
    const cases: Array<[string, Partial<StartInstanceRequest>, RegExp]> = [
      ["no instance id", { spec: good }, /instance_id: is required/],
      ["no spec", { instanceId: "bad-no-spec" }, /spec: is required/],
      ["an instance id that leaves the instances folder", { instanceId: "../escape", spec: good }, /instance_id: /],
      ["an instance id that is not a stream id", { instanceId: "a.b", spec: good }, /instance_id: /],
      ["an instance id the scheduler would refuse", { instanceId: "_hidden", spec: good }, /instance_id: must be .*starting alphanumeric/],
      ["no runtime", { instanceId: "bad-runtime", spec: ServiceSpec.fromPartial({ name: "svc" }) }, /spec\.runtime: /],
      ["an empty command", { instanceId: "bad-command", spec: container({ command: " " }) }, /spec\.container\.command: is empty/],
      ["a port out of range", { instanceId: "bad-port", spec: container({ port: 70_000 }) }, /spec\.container\.port: /],
      [
        "an unknown probe kind",
        { instanceId: "bad-probe", spec: container({ readiness: { kind: "exec" } }) },
        /spec\.container\.readiness\.kind: /,
      ],
      ["a relative mount path", { instanceId: "bad-mount", spec: container({}, [mount("data")]) }, /spec\.storage\[0\]\.mount_path: /],
      ["a mount path with ..", { instanceId: "bad-dots", spec: container({}, [mount("/a/../etc")]) }, /spec\.storage\[0\]\.mount_path: /],
      [
        "overlapping mounts",
        { instanceId: "bad-overlap", spec: container({}, [mount("/data"), mount("/data/sub")]) },
        /spec\.storage\[1\]\.mount_path: /,
      ],
      [
        "an unsupported source",
        { instanceId: "bad-source", spec: container({}, [mount("/data", "oss://bucket/x")]) },
        /spec\.storage\[0\]\.source: /,
      ],
      [
        "an unknown processor",
        { instanceId: "bad-processor", spec: ServiceSpec.fromPartial({ runtime: { $case: "processor", value: { name: "nope" } } }) },
        /spec\.processor\.name: /,
      ],
    ];
    const wrong: string[] = [];
    for (const [what, request, field] of cases) {
      const outcome = await startInstance(request).then(
        (answer) => `accepted (${answer.status})`,
        (error: ServiceError) =>
          error.code === status.INVALID_ARGUMENT && field.test(error.details) ? undefined : `${error.code} ${error.details}`,
      );
      if (outcome) wrong.push(`${what}: ${outcome}`);
    }
    assert.deepEqual(wrong, [], "every malformed request is INVALID_ARGUMENT naming its field");
    await rejectsWith(stop(""), status.INVALID_ARGUMENT, /instance_id: is required/);

    await new Promise((resolve) => setTimeout(resolve, 300));
    const ids = cases.map(([, request]) => request.instanceId).filter((id): id is string => !!id);
    assert.deepEqual(
      (await list()).filter((instance) => ids.includes(instance.instanceId)),
      [],
    );
    const folders = existsSync(join(nodeDir, "instances")) ? readdirSync(join(nodeDir, "instances")) : [];
    assert.deepEqual(
      folders.filter((name) => ids.includes(name) || name === "escape"),
      [],
    );
    assert.equal(existsSync(join(nodeDir, "escape")), false, "nothing was laid out outside the instances folder");
    for (const id of ids.filter((id) => /^[A-Za-z0-9_-]+$/.test(id))) assert.deepEqual(await types(id), [], `no events for ${id}`);
    assert.equal(await readFile(join(work, "bad-requests.starts"), "utf8").catch(() => ""), "");
  });
});

/*
 * The ServiceManager gRPC API against a real nats-server: the JetStream event store, the service-views
 * projection through the projection runner, and a real grpc-js server, wired as app.ts wires them but
 * without reconciler, scheduler or agents. These tests hold the API contract: bad input is a clear
 * INVALID_ARGUMENT naming the field, a rejected call writes nothing, an acknowledged one is never lost.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { Client, credentials, Metadata, status, type ServiceError } from "@grpc/grpc-js";
import { connectJetStreamEventStore, type EventStore, type RecordedEvent } from "@eas/event-store";
import { decodeEvent, event, instanceStream, serviceStream, tokenSha256, toNewEvent, type EasEvent } from "@eas/events";
import { createProjectionRunner, type ProjectionRunner } from "@eas/projections";
import {
  ServiceManagerClient,
  ServiceManagerService,
  unaryCall,
  type EventRecord,
  type ServiceInfo,
  type WatchEventsRequest,
} from "@eas/proto";
import { startGrpcServer, type GrpcServerHandle } from "@eas/service-kit";
import { createLogger } from "@eas/telemetry";
import { freePort, startNatsServer, waitFor, type NatsServerHandle } from "@eas/testing";
import { serviceViewsProjection, type ServiceViews } from "../projections/service-views.js";
import { createServiceTokens, memoryTokenVault } from "../tokens/service-tokens.js";
import { createServiceManager } from "./service-manager.js";

const GATEWAY_URL = "http://gateway.test:8080";
const CALL_TIMEOUT_MS = 15_000;
const example = (file: string) => readFileSync(new URL(`../../../../examples/${file}`, import.meta.url), "utf8");
const ECHO_JSON = example("echo.json");
const ECHO_NAME = "echo_demo";

interface Fixture {
  store: EventStore;
  views: ProjectionRunner<ServiceViews>;
  client: ServiceManagerClient;
  address: string;
  stop(): Promise<void>;
}

let nats: NatsServerHandle;
/** Shared by every deployer of a test, as the NATS KV bucket is in a cluster. */
const tokenVault = memoryTokenVault();
let fx: Fixture;

interface ApiServer {
  views: ProjectionRunner<ServiceViews>;
  client: ServiceManagerClient;
  address: string;
  stop(): Promise<void>;
}

/** One deployer's API over a log: its own read model and gRPC server, as app.ts wires them. */
async function startApiServer(store: EventStore, source: string): Promise<ApiServer> {
  const logger = createLogger({ name: "service-manager-test", level: "silent" });
  const views = createProjectionRunner({ store, projection: serviceViewsProjection });
  await views.start();
  await views.caughtUp;
  const port = await freePort();
  const server: GrpcServerHandle = await startGrpcServer(
    [
      {
        definition: ServiceManagerService,
        implementation: createServiceManager({
          store,
          views,
          logger,
          gatewayUrl: GATEWAY_URL,
          tokens: createServiceTokens({ vault: tokenVault, store }),
          now: () => new Date(),
          source,
        }),
      },
    ],
    "127.0.0.1",
    port,
  );
  const address = `127.0.0.1:${server.port}`;
  const client = new ServiceManagerClient(address, credentials.createInsecure());
  return {
    views,
    client,
    address,
    async stop() {
      client.close();
      await server.stop(1_000);
      await views.stop();
    },
  };
}

/** A fresh log (its own JetStream stream) per test, so positions and names never leak between tests. */
async function startFixture(): Promise<Fixture> {
  const tag = randomUUID().replaceAll("-", "").slice(0, 12);
  const store = await connectJetStreamEventStore({ servers: nats.url, streamName: `SM_${tag}`, subjectPrefix: `sm${tag}.events` });
  const server = await startApiServer(store, `eas/deployer/test-${tag}`);
  return {
    store,
    views: server.views,
    client: server.client,
    address: server.address,
    async stop() {
      await server.stop();
      await store.close();
    },
  };
}

before(async () => {
  nats = await startNatsServer();
});
after(async () => {
  await nats?.stop();
});
beforeEach(async () => {
  fx = await startFixture();
});
afterEach(async () => {
  await fx?.stop();
});

// --- calls -------------------------------------------------------------------------------------------

const api = {
  create: (spec: string) => unaryCall(fx.client, fx.client.createService, { spec }, CALL_TIMEOUT_MS),
  update: (name: string, spec: string, updateType = "") =>
    unaryCall(fx.client, fx.client.updateService, { name, spec, updateType }, CALL_TIMEOUT_MS),
  get: (name: string) => unaryCall(fx.client, fx.client.getService, { name }, CALL_TIMEOUT_MS),
  list: async () => (await unaryCall(fx.client, fx.client.listServices, {}, CALL_TIMEOUT_MS)).services,
  remove: (name: string) => unaryCall(fx.client, fx.client.deleteService, { name }, CALL_TIMEOUT_MS),
  start: (name: string) => unaryCall(fx.client, fx.client.startService, { name }, CALL_TIMEOUT_MS),
  stop: (name: string) => unaryCall(fx.client, fx.client.stopService, { name }, CALL_TIMEOUT_MS),
  scale: (name: string, replicas: number) =>
    unaryCall(fx.client, fx.client.scaleService, { name, replicas, cause: "", reason: "" }, CALL_TIMEOUT_MS),
  versions: async (name: string) => (await unaryCall(fx.client, fx.client.listVersions, { name }, CALL_TIMEOUT_MS)).versions,
  rollback: (name: string, version: number) => unaryCall(fx.client, fx.client.rollbackService, { name, version }, CALL_TIMEOUT_MS),
};

/** The processor-mode example with some fields changed, as JSON text. */
function echoSpec(changes: { name?: string; metadata?: Record<string, unknown>; extra?: Record<string, unknown> } = {}): string {
  const base = JSON.parse(ECHO_JSON) as { name: string; metadata: Record<string, unknown> };
  return JSON.stringify({
    ...base,
    name: changes.name ?? base.name,
    metadata: { ...base.metadata, ...changes.metadata },
    ...changes.extra,
  });
}

function specOf(info: Pick<ServiceInfo, "specJson">): {
  name: string;
  instance: number;
  resources: { cpuMillis: number; memoryMib: number };
  processor?: { name: string; modelPath?: string };
  labels?: Record<string, string>;
} {
  return JSON.parse(info.specJson) as ReturnType<typeof specOf>;
}

// --- the log -----------------------------------------------------------------------------------------

async function readAll(): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for await (const e of fx.store.readAll()) events.push(e);
  return events;
}

async function logPositions(): Promise<number[]> {
  return (await readAll()).map((e) => e.position);
}

async function serviceEvents(name: string): Promise<EasEvent[]> {
  return (await fx.store.readStream(serviceStream(name))).map((r) => decodeEvent(r)!);
}

async function serviceEventTypes(name: string): Promise<string[]> {
  return (await serviceEvents(name)).map((e) => e.type);
}

/** The call must fail with `code`, its message must match `pattern`, and the log must not change. */
async function rejectsWithoutWriting(call: () => Promise<unknown>, code: status, pattern: RegExp): Promise<ServiceError> {
  const before = await logPositions();
  let caught: ServiceError | undefined;
  await assert.rejects(call(), (error: ServiceError) => {
    assert.equal(error.code, code, `gRPC status ${status[error.code]} (${error.details}), expected ${status[code]}`);
    assert.match(error.details, pattern);
    caught = error;
    return true;
  });
  assert.deepEqual(await logPositions(), before, "a rejected call appended events");
  return caught!;
}

/** The call succeeds and appends nothing. */
async function succeedsWithoutWriting<T>(call: () => Promise<T>): Promise<T> {
  const before = await logPositions();
  const result = await call();
  assert.deepEqual(await logPositions(), before, "a no-op call appended events");
  return result;
}

/** Field paths the server attached to an INVALID_ARGUMENT (trailer eas-field-violations-bin). */
function violationPaths(error: ServiceError): string[] {
  const [raw] = error.metadata?.get("eas-field-violations-bin") ?? [];
  assert.ok(Buffer.isBuffer(raw), "INVALID_ARGUMENT carries field violations");
  return (JSON.parse(raw.toString("utf8")) as { path: string }[]).map((v) => v.path);
}

/** Facts a scheduler or agent would write, so the deployer's view holds an instance of `service`. */
async function appendInstanceEvent(instanceId: string, e: EasEvent): Promise<void> {
  const result = await fx.store.append(instanceStream(instanceId), [toNewEvent(e, randomUUID())], { expectedRevision: "any" });
  await fx.views.waitForPosition(result.position);
}

const scheduled = (instanceId: string, service: string) =>
  event("InstanceScheduled", {
    instanceId,
    service,
    version: 1,
    nodeId: "n1",
    resources: { cpuMillis: 500, memoryMib: 256, gpu: 0, gpuType: "", gpuMemoryGib: 0 },
    pool: "public",
    spot: false,
    at: new Date().toISOString(),
  });

const stopped = (instanceId: string, service: string) =>
  event("InstanceStopped", { instanceId, service, nodeId: "n1", reason: "deleted", at: new Date().toISOString() });

// --- tests -------------------------------------------------------------------------------------------

describe("ServiceManager API: CreateService", () => {
  const examples = [
    { file: "echo.json", name: "echo_demo", instances: 1, warnings: [] },
    { file: "iris-onnx.json", name: "iris", instances: 2, warnings: [] },
    {
      file: "container-echo.yaml",
      name: "hello_http",
      instances: 1,
      warnings: ["containers[0].image: recorded only: the process driver runs the command on the node, not in this image"],
    },
  ];
  for (const { file, name, instances, warnings } of examples) {
    it(`creates ${name} from examples/${file}: version 1, a token, status Creating, one ServiceCreated`, async () => {
      const info = await api.create(example(file));

      assert.equal(info.name, name);
      assert.equal(info.currentVersion, 1);
      assert.equal(info.latestVersion, 1);
      assert.equal(info.status, "Creating");
      assert.equal(info.desiredInstances, instances);
      assert.equal(info.endpoint, `${GATEWAY_URL}/api/predict/${name}`);
      assert.ok(info.token.length >= 16, `a generated token, got ${JSON.stringify(info.token)}`);
      assert.equal(specOf(info).name, name);
      const events = await serviceEvents(name);
      assert.equal(events.length, 1);
      const created = events[0]!;
      assert.equal(created.type, "eas.v1.ServiceCreated");
      assert.ok(created.type === "eas.v1.ServiceCreated");
      assert.equal(created.data.version, 1);
      assert.equal(created.data.token, "", "no event carries the token (ADR 0027)");
      assert.equal(created.data.tokenSha256, tokenSha256(info.token), "the event records the answered token's digest");
      assert.deepEqual(info.warnings, warnings, "the spec's warnings are answered, not dropped");
      assert.deepEqual(await api.get(name), { ...info, warnings: [] }, "Get answers what Create answered");
    });
  }

  it("gives every service its own token", async () => {
    const a = await api.create(echoSpec({ name: "svc_a" }));
    const b = await api.create(echoSpec({ name: "svc_b" }));
    assert.notEqual(a.token, b.token);
  });

  const invalid: { case: string; text: string; paths: string[]; pattern: RegExp }[] = [
    // docs/service-spec.md promises these words for an empty file.
    { case: "empty text", text: "  \n", paths: [""], pattern: /^the document is empty$/ },
    { case: "a name with upper case and a dash", text: echoSpec({ name: "Bad-Name" }), paths: ["name"], pattern: /^name: .*"Bad-Name"/ },
    {
      case: "no name at all",
      text: JSON.stringify({ processor: "echo" }),
      paths: ["metadata.name"],
      pattern: /metadata\.name: is required/,
    },
    {
      case: "a negative instance count",
      text: echoSpec({ metadata: { instance: -1 } }),
      paths: ["metadata.instance"],
      pattern: /metadata\.instance: .*-1/,
    },
    {
      case: "a fractional instance count",
      text: echoSpec({ metadata: { instance: 1.5 } }),
      paths: ["metadata.instance"],
      pattern: /metadata\.instance: .*1\.5/,
    },
    { case: "zero cpu", text: echoSpec({ metadata: { cpu: 0 } }), paths: ["metadata.cpu"], pattern: /metadata\.cpu: .*got 0/ },
    {
      case: "an unknown processor",
      text: echoSpec({ extra: { processor: "pmml" } }),
      paths: ["processor"],
      pattern: /processor: .*"pmml" is not built in/,
    },
    {
      case: "onnx without model_path",
      text: echoSpec({ extra: { processor: "onnx" } }),
      paths: ["model_path"],
      pattern: /model_path: is required for processor onnx/,
    },
    {
      case: "an http model_path",
      text: echoSpec({ extra: { processor: "onnx", model_path: "https://example.com/m.onnx" } }),
      paths: ["model_path"],
      pattern: /model_path: .*http/,
    },
    { case: "cpu at the top level", text: echoSpec({ extra: { cpu: 2 } }), paths: ["cpu"], pattern: /cpu: .*belongs under metadata/ },
    {
      case: "both processor and containers",
      text: echoSpec({ extra: { containers: [{ script: "true" }] } }),
      paths: ["processor"],
      pattern: /not both/,
    },
    {
      case: "two problems at once, both reported",
      text: echoSpec({ metadata: { cpu: 0, instance: -2 } }),
      paths: ["metadata.instance", "metadata.cpu"],
      pattern: /metadata\.instance: .*; metadata\.cpu: /,
    },
    { case: "broken JSON", text: '{"name": "x",\n "processor": }', paths: [""], pattern: /invalid JSON at line 2, column \d+/ },
    { case: "broken YAML", text: "name: x\nprocessor: echo\n  metadata: [", paths: [""], pattern: /invalid YAML at line \d+, column \d+/ },
    {
      case: "two YAML documents",
      text: "name: a\nprocessor: echo\n---\nname: b\n",
      paths: [""],
      pattern: /invalid YAML .*multiple documents/,
    },
    { case: "a JSON list instead of an object", text: "[1, 2]", paths: [""], pattern: /must be an object/ },
  ];
  for (const { case: name, text, paths, pattern } of invalid) {
    it(`refuses ${name} with INVALID_ARGUMENT naming ${paths.map((p) => JSON.stringify(p)).join(", ")}, writing nothing`, async () => {
      const error = await rejectsWithoutWriting(() => api.create(text), status.INVALID_ARGUMENT, pattern);
      assert.deepEqual([...new Set(violationPaths(error))].sort(), [...paths].sort());
      assert.deepEqual(await api.list(), []);
    });
  }

  it("refuses a second service of the same name with ALREADY_EXISTS, keeping the first", async () => {
    const first = await api.create(ECHO_JSON);
    await rejectsWithoutWriting(
      () => api.create(echoSpec({ metadata: { instance: 5 } })),
      status.ALREADY_EXISTS,
      /echo_demo already exists/,
    );
    assert.deepEqual(await api.get(ECHO_NAME), first);
  });
});

describe("ServiceManager API: UpdateService", () => {
  it("merges a partial document into a new version, keeping what the patch does not name", async () => {
    await api.create(ECHO_JSON);
    const info = await api.update(ECHO_NAME, JSON.stringify({ metadata: { cpu: 2 } }), "merge");

    assert.equal(info.currentVersion, 2);
    assert.equal(info.latestVersion, 2);
    const spec = specOf(info);
    assert.equal(spec.resources.cpuMillis, 2000);
    assert.equal(spec.resources.memoryMib, 256, "memory from the stored version");
    assert.equal(spec.processor?.name, "echo");
    const last = (await serviceEvents(ECHO_NAME)).at(-1)!;
    assert.ok(last.type === "eas.v1.ServiceUpdated", `last event ${last.type}`);
    assert.equal(last.data.version, 2);
    assert.equal(last.data.updateType, "merge");
    assert.equal(last.data.spec?.resources?.cpuMillis, 2000);
  });

  it("treats an empty update type as merge, in YAML too", async () => {
    await api.create(ECHO_JSON);
    const info = await api.update(ECHO_NAME, "metadata:\n  memory: 512\n");
    assert.equal(info.currentVersion, 2);
    assert.equal(specOf(info).resources.memoryMib, 512);
    assert.equal(specOf(info).resources.cpuMillis, 500);
  });

  it("a merge that does not name metadata.instance keeps the replicas the service was scaled to", async () => {
    await api.create(ECHO_JSON);
    await api.scale(ECHO_NAME, 4);
    const info = await api.update(ECHO_NAME, JSON.stringify({ metadata: { memory: 512 } }));
    assert.equal(info.desiredInstances, 4);
    assert.equal(specOf(info).instance, 4);
  });

  it("replaces the whole document: fields it leaves out go back to their defaults", async () => {
    await api.create(ECHO_JSON);
    const replacement = JSON.stringify({ processor: "onnx", model_path: "obj://models/iris.onnx", metadata: { instance: 2 } });
    const info = await api.update(ECHO_NAME, replacement, "replace");

    assert.equal(info.currentVersion, 2);
    const spec = specOf(info);
    assert.equal(spec.name, ECHO_NAME, "the service's name fills in a document without one");
    assert.equal(spec.processor?.name, "onnx");
    assert.equal(spec.instance, 2);
    assert.notEqual(spec.resources.memoryMib, 256, "memory of version 1 is not carried over by a replace");
    const last = (await serviceEvents(ECHO_NAME)).at(-1)!;
    assert.ok(last.type === "eas.v1.ServiceUpdated");
    assert.equal(last.data.updateType, "replace");
  });

  it("an update answers the warnings about the new version's spec", async () => {
    await api.create(ECHO_JSON);
    const patch = JSON.stringify({ containers: [{ image: "python:3.11", script: "python -m http.server $PORT" }] });
    const info = await api.update(ECHO_NAME, patch);
    assert.deepEqual(info.warnings, [
      "containers[0].image: recorded only: the process driver runs the command on the node, not in this image",
    ]);
  });

  it("an update of an unknown service is NOT_FOUND", async () => {
    await api.create(ECHO_JSON);
    await rejectsWithoutWriting(() => api.update("ghost", JSON.stringify({ metadata: { cpu: 2 } })), status.NOT_FOUND, /ghost/);
  });

  const invalidPatches: { case: string; name?: string; text: string; updateType?: string; paths: string[]; pattern: RegExp }[] = [
    { case: "zero cpu", text: JSON.stringify({ metadata: { cpu: 0 } }), paths: ["metadata.cpu"], pattern: /metadata\.cpu: / },
    {
      case: "a negative instance count",
      text: JSON.stringify({ metadata: { instance: -3 } }),
      paths: ["metadata.instance"],
      pattern: /metadata\.instance: /,
    },
    {
      case: "an unknown field",
      text: JSON.stringify({ metadata: { cpus: 2 } }),
      paths: ["metadata.cpus"],
      pattern: /metadata\.cpus: unknown field/,
    },
    // Only the field the file has is blamed (the file has no metadata.name).
    {
      case: "a rename",
      text: JSON.stringify({ name: "other_name" }),
      paths: ["name"],
      pattern: /^name: cannot change the service name \("echo_demo" to "other_name"\), create a new service instead$/,
    },
    { case: "an unknown processor", text: JSON.stringify({ processor: "pmml" }), paths: ["processor"], pattern: /"pmml" is not built in/ },
    {
      case: "an unknown update type",
      text: JSON.stringify({ metadata: { cpu: 2 } }),
      updateType: "upsert",
      paths: ["update_type"],
      pattern: /update_type: .*"upsert"/,
    },
    { case: "broken JSON", text: '{"metadata": {"cpu": }', paths: [""], pattern: /invalid JSON at line 1/ },
    { case: "a patch that is not an object", text: "42", paths: [""], pattern: /must be an object/ },
    {
      case: "a replace missing the mode",
      text: JSON.stringify({ metadata: { instance: 1 } }),
      updateType: "replace",
      paths: [""],
      pattern: /containers|processor/,
    },
    {
      case: "an invalid service name",
      name: "Bad.Name",
      text: JSON.stringify({ metadata: { cpu: 2 } }),
      paths: ["name"],
      pattern: /^name: .*"Bad\.Name"/,
    },
    {
      case: "an empty service name",
      name: "",
      text: JSON.stringify({ metadata: { cpu: 2 } }),
      paths: ["name"],
      pattern: /^name: is required/,
    },
  ];
  for (const { case: label, name, text, updateType, paths, pattern } of invalidPatches) {
    it(`refuses ${label} with INVALID_ARGUMENT, writing no event`, async () => {
      const created = await api.create(ECHO_JSON);
      const error = await rejectsWithoutWriting(() => api.update(name ?? ECHO_NAME, text, updateType), status.INVALID_ARGUMENT, pattern);
      const reported = violationPaths(error);
      for (const path of paths) {
        assert.ok(
          reported.includes(path) || (path === "" && reported.length > 0),
          `violation paths ${JSON.stringify(reported)} name ${JSON.stringify(path)}`,
        );
      }
      assert.deepEqual(await api.get(ECHO_NAME), created, "the service is unchanged");
    });
  }
});

describe("ServiceManager API: Get, List and Delete", () => {
  it("lists live services sorted by name; Get of an unknown one is NOT_FOUND, of a malformed name INVALID_ARGUMENT", async () => {
    for (const name of ["zeta", "alpha", "mid_1"]) await api.create(echoSpec({ name }));
    assert.deepEqual(
      (await api.list()).map((s) => s.name),
      ["alpha", "mid_1", "zeta"],
    );
    assert.equal((await api.get("alpha")).name, "alpha");
    await rejectsWithoutWriting(() => api.get("ghost"), status.NOT_FOUND, /service ghost not found/);
    const error = await rejectsWithoutWriting(() => api.get("no.such"), status.INVALID_ARGUMENT, /^name: /);
    assert.deepEqual(violationPaths(error), ["name"]);
  });

  it("deletes: answers Deleting, then Get is NOT_FOUND, List omits it, a second delete is NOT_FOUND", async () => {
    await api.create(echoSpec({ name: "keep" }));
    await api.create(ECHO_JSON);
    const answer = await api.remove(ECHO_NAME);

    assert.equal(answer.status, "Deleting");
    assert.equal(answer.name, ECHO_NAME);
    assert.deepEqual(await serviceEventTypes(ECHO_NAME), ["eas.v1.ServiceCreated", "eas.v1.ServiceDeleted"]);
    await rejectsWithoutWriting(() => api.get(ECHO_NAME), status.NOT_FOUND, /echo_demo/);
    assert.deepEqual(
      (await api.list()).map((s) => s.name),
      ["keep"],
    );
    await rejectsWithoutWriting(() => api.versions(ECHO_NAME), status.NOT_FOUND, /echo_demo/);
    await rejectsWithoutWriting(() => api.remove(ECHO_NAME), status.NOT_FOUND, /echo_demo/);
  });

  it("creates a deleted service (no instances left) again from version 1, with a new token, on the same stream", async () => {
    const first = await api.create(ECHO_JSON);
    await api.update(ECHO_NAME, JSON.stringify({ metadata: { cpu: 2 } }));
    await api.remove(ECHO_NAME);
    const again = await api.create(echoSpec({ metadata: { memory: 512 } }));

    assert.equal(again.currentVersion, 1);
    assert.equal(again.latestVersion, 1);
    assert.notEqual(again.token, first.token);
    assert.equal(specOf(again).resources.memoryMib, 512);
    assert.equal(specOf(again).resources.cpuMillis, 500, "nothing of the deleted incarnation carries over");
    assert.deepEqual(
      (await api.versions(ECHO_NAME)).map((v) => [v.version, v.current]),
      [[1, true]],
    );
    assert.deepEqual(await serviceEventTypes(ECHO_NAME), [
      "eas.v1.ServiceCreated",
      "eas.v1.ServiceUpdated",
      "eas.v1.ServiceDeleted",
      "eas.v1.ServiceCreated",
    ]);
  });

  it("refuses to create a service again while the deleted one still has instances (FAILED_PRECONDITION), then allows it once they stopped", async () => {
    await api.create(ECHO_JSON);
    await appendInstanceEvent("echo-i1", scheduled("echo-i1", ECHO_NAME));
    assert.equal((await api.get(ECHO_NAME)).totalInstances, 1);
    await api.remove(ECHO_NAME);

    // Deleting: hidden from the API, but kept in the view until its last instance has stopped.
    await rejectsWithoutWriting(() => api.get(ECHO_NAME), status.NOT_FOUND, /echo_demo/);
    assert.deepEqual(await api.list(), []);
    await rejectsWithoutWriting(() => api.create(ECHO_JSON), status.FAILED_PRECONDITION, /echo_demo is still being deleted/);
    await rejectsWithoutWriting(() => api.update(ECHO_NAME, JSON.stringify({ metadata: { cpu: 2 } })), status.NOT_FOUND, /echo_demo/);
    await rejectsWithoutWriting(() => api.scale(ECHO_NAME, 3), status.NOT_FOUND, /echo_demo/);
    await rejectsWithoutWriting(() => api.remove(ECHO_NAME), status.NOT_FOUND, /echo_demo/);

    await appendInstanceEvent("echo-i1", stopped("echo-i1", ECHO_NAME));
    const again = await api.create(ECHO_JSON);
    assert.equal(again.currentVersion, 1);
    assert.equal(again.totalInstances, 0, "the old incarnation's instances are gone");
  });
});

describe("ServiceManager API: Start, Stop and Scale", () => {
  it("stops and starts; a second stop or start is a no-op that writes nothing", async () => {
    await api.create(echoSpec({ metadata: { instance: 2 } }));

    const stoppedInfo = await api.stop(ECHO_NAME);
    assert.equal(stoppedInfo.status, "Stopped");
    assert.equal(stoppedInfo.desiredInstances, 0);
    const again = await succeedsWithoutWriting(() => api.stop(ECHO_NAME));
    assert.equal(again.status, "Stopped");

    const started = await api.start(ECHO_NAME);
    assert.equal(started.desiredInstances, 2, "start brings back the replicas it had");
    assert.notEqual(started.status, "Stopped");
    await succeedsWithoutWriting(() => api.start(ECHO_NAME));
    assert.deepEqual(await serviceEventTypes(ECHO_NAME), ["eas.v1.ServiceCreated", "eas.v1.ServiceStopped", "eas.v1.ServiceStarted"]);
  });

  it("scales up and down to zero; the same count again writes nothing", async () => {
    await api.create(ECHO_JSON);
    assert.equal((await api.scale(ECHO_NAME, 3)).desiredInstances, 3);
    const same = await succeedsWithoutWriting(() => api.scale(ECHO_NAME, 3));
    assert.equal(same.desiredInstances, 3);
    assert.equal((await api.scale(ECHO_NAME, 0)).desiredInstances, 0);

    const scaled = (await serviceEvents(ECHO_NAME)).flatMap((e) =>
      e.type === "eas.v1.ServiceScaled" ? [[e.data.fromReplicas, e.data.toReplicas, e.data.cause]] : [],
    );
    assert.deepEqual(scaled, [
      [1, 3, "user"],
      [3, 0, "user"],
    ]);
  });

  for (const replicas of [1001, 2 ** 32 - 1]) {
    it(`refuses to scale to ${replicas} with INVALID_ARGUMENT naming replicas`, async () => {
      await api.create(ECHO_JSON);
      const error = await rejectsWithoutWriting(
        () => api.scale(ECHO_NAME, replicas),
        status.INVALID_ARGUMENT,
        /^replicas: must be at most 1000/,
      );
      assert.deepEqual(violationPaths(error), ["replicas"]);
      assert.equal((await api.get(ECHO_NAME)).desiredInstances, 1);
    });
  }

  it("refuses a negative count sent on the wire by a client with int32 encoding (-1 as a 10-byte varint)", async () => {
    await api.create(ECHO_JSON);
    // Our generated client refuses to encode -1 into a uint32; another language's client need not.
    const raw = new Client(fx.address, credentials.createInsecure());
    try {
      const name = Buffer.from(ECHO_NAME, "utf8");
      const body = Buffer.concat([
        Buffer.from([0x0a, name.length]),
        name,
        Buffer.from([0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]),
      ]);
      const method = ServiceManagerService.scaleService;
      await rejectsWithoutWriting(
        () =>
          new Promise<ServiceInfo>((resolve, reject) => {
            raw.makeUnaryRequest(
              method.path,
              (request: Buffer) => request,
              method.responseDeserialize,
              body,
              new Metadata(),
              { deadline: new Date(Date.now() + CALL_TIMEOUT_MS) },
              (error, response) => (error ? reject(error) : resolve(response!)),
            );
          }),
        status.INVALID_ARGUMENT,
        /^replicas: /,
      );
    } finally {
      raw.close();
    }
    assert.equal((await api.get(ECHO_NAME)).desiredInstances, 1);
  });
});

describe("ServiceManager API: versions and rollback", () => {
  it("lists versions, rolls back to version 1, and builds the next update on the rolled-back-to version", async () => {
    await api.create(ECHO_JSON);
    await api.update(ECHO_NAME, JSON.stringify({ metadata: { cpu: 2 } }));
    await api.update(ECHO_NAME, JSON.stringify({ metadata: { memory: 512 } }));
    assert.deepEqual(
      (await api.versions(ECHO_NAME)).map((v) => [v.version, v.current]),
      [
        [1, false],
        [2, false],
        [3, true],
      ],
    );

    const rolledBack = await api.rollback(ECHO_NAME, 1);
    assert.equal(rolledBack.currentVersion, 1);
    assert.equal(rolledBack.latestVersion, 3);
    assert.equal(specOf(rolledBack).resources.cpuMillis, 500);
    assert.deepEqual(
      (await api.versions(ECHO_NAME)).map((v) => v.current),
      [true, false, false],
    );

    const next = await api.update(ECHO_NAME, JSON.stringify({ labels: { team: "qa" } }));
    assert.equal(next.currentVersion, 4);
    assert.equal(specOf(next).resources.cpuMillis, 500, "built on version 1, not on version 3");
    assert.equal(specOf(next).resources.memoryMib, 256);
    assert.deepEqual(specOf(next).labels, { team: "qa" });
  });

  it("rollback to the current version is FAILED_PRECONDITION, to an unknown one NOT_FOUND, to 0 INVALID_ARGUMENT", async () => {
    await api.create(ECHO_JSON);
    await api.update(ECHO_NAME, JSON.stringify({ metadata: { cpu: 2 } }));
    await rejectsWithoutWriting(() => api.rollback(ECHO_NAME, 2), status.FAILED_PRECONDITION, /already runs version 2/);
    await rejectsWithoutWriting(() => api.rollback(ECHO_NAME, 9), status.NOT_FOUND, /^service echo_demo has no version 9; versions: 1, 2$/);
    const error = await rejectsWithoutWriting(() => api.rollback(ECHO_NAME, 0), status.INVALID_ARGUMENT, /^version: must be >= 1/);
    assert.deepEqual(violationPaths(error), ["version"]);
  });
});

describe("ServiceManager API: unknown services", () => {
  const calls: { rpc: string; call: () => Promise<unknown> }[] = [
    { rpc: "GetService", call: () => api.get("ghost") },
    { rpc: "UpdateService", call: () => api.update("ghost", JSON.stringify({ metadata: { cpu: 2 } })) },
    { rpc: "DeleteService", call: () => api.remove("ghost") },
    { rpc: "StartService", call: () => api.start("ghost") },
    { rpc: "StopService", call: () => api.stop("ghost") },
    { rpc: "ScaleService", call: () => api.scale("ghost", 2) },
    { rpc: "ListVersions", call: () => api.versions("ghost") },
    { rpc: "RollbackService", call: () => api.rollback("ghost", 1) },
  ];
  for (const { rpc, call } of calls) {
    it(`${rpc} of an unknown service is NOT_FOUND naming it, and writes nothing`, async () => {
      await api.create(ECHO_JSON);
      await rejectsWithoutWriting(call, status.NOT_FOUND, /service ghost not found/);
    });
  }
});

describe("ServiceManager API: WatchEvents", () => {
  interface Watch {
    records: EventRecord[];
    /** Resolves with every record once the server ended the stream (or after cancel()). */
    done: Promise<EventRecord[]>;
    cancel(): void;
  }

  const watch = (request: Partial<WatchEventsRequest>): Watch => {
    const records: EventRecord[] = [];
    const call = fx.client.watchEvents({ fromPosition: 0, typePrefix: "", follow: false, ...request });
    let cancelled = false;
    const done = new Promise<EventRecord[]>((resolve, reject) => {
      call.on("data", (record: EventRecord) => records.push(record));
      call.on("end", () => resolve(records));
      call.on("error", (error: ServiceError) => (cancelled && error.code === status.CANCELLED ? resolve(records) : reject(error)));
    });
    return {
      records,
      done,
      cancel: () => {
        cancelled = true;
        call.cancel();
      },
    };
  };

  const asLogged = (records: EventRecord[]) => records.map((r) => [r.position, r.stream, r.revision, r.type, r.id]);
  const logged = (events: RecordedEvent[]) => events.map((e) => [e.position, e.stream, e.revision, e.type, e.id]);

  async function someHistory(): Promise<void> {
    await api.create(ECHO_JSON);
    await api.create(echoSpec({ name: "other" }));
    await api.scale(ECHO_NAME, 2);
    await api.update("other", JSON.stringify({ metadata: { cpu: 2 } }));
    await api.stop(ECHO_NAME);
  }

  it("from position 0 streams the whole log in order, with data and metadata, and ends at the head", async () => {
    await someHistory();
    const all = await readAll();
    const records = await watch({ fromPosition: 0 }).done;

    assert.equal(records.length, 5);
    assert.deepEqual(asLogged(records), logged(all));
    for (const [i, record] of records.entries()) {
      assert.deepEqual(JSON.parse(record.dataJson), all[i]!.data);
      assert.ok(record.metadata.source?.startsWith("eas/deployer/"), `source of ${record.type}`);
      assert.equal(new Date(record.time).getTime(), all[i]!.time.getTime());
    }
  });

  it("from a later position resumes exactly after it", async () => {
    await someHistory();
    const all = await readAll();
    const resumeAfter = all[2]!.position;
    const records = await watch({ fromPosition: resumeAfter }).done;

    assert.deepEqual(asLogged(records), logged(all.filter((e) => e.position > resumeAfter)));
    assert.equal(records[0]!.position, all[3]!.position);
    assert.deepEqual(await watch({ fromPosition: all.at(-1)!.position }).done, [], "nothing after the head");
  });

  it("filters by type prefix", async () => {
    await someHistory();
    const records = await watch({ fromPosition: 0, typePrefix: "eas.v1.ServiceCreated" }).done;
    assert.deepEqual(
      records.map((r) => [r.type, r.stream]),
      [
        ["eas.v1.ServiceCreated", serviceStream(ECHO_NAME)],
        ["eas.v1.ServiceCreated", serviceStream("other")],
      ],
    );
  });

  it("with follow, delivers the history and then an event appended afterwards", async () => {
    await someHistory();
    const history = await readAll();
    const live = watch({ fromPosition: 0, follow: true });
    try {
      await waitFor("the history to arrive", () => live.records.length === history.length);
      const scaled = await api.scale(ECHO_NAME, 5);
      assert.equal(scaled.desiredInstances, 0, "stopped: desired shows 0 until started");
      await waitFor("the live event to arrive", () => live.records.length === history.length + 1);
    } finally {
      live.cancel();
    }
    const records = await live.done;
    assert.deepEqual(asLogged(records), logged(await readAll()));
    const last = records.at(-1)!;
    assert.equal(last.type, "eas.v1.ServiceScaled");
    assert.equal((JSON.parse(last.dataJson) as { toReplicas: number }).toReplicas, 5);
  });
});

describe("ServiceManager API: concurrent commands", () => {
  /** The service stream as a chain of ServiceScaled after the create; asserts it has no gap and no lost update. */
  async function scaledChain(): Promise<number[]> {
    const recorded = await fx.store.readStream(serviceStream(ECHO_NAME));
    assert.deepEqual(
      recorded.map((r) => r.revision),
      recorded.map((_, i) => i),
      "revisions without gaps",
    );
    const scaled = recorded.flatMap((r) => {
      const e = decodeEvent(r);
      return e?.type === "eas.v1.ServiceScaled" ? [e.data] : [];
    });
    assert.equal(scaled.length, recorded.length - 1, "only ServiceScaled after the create");
    // Every event decided on the state the one before left: no lost update.
    let replicas = 1;
    for (const s of scaled) {
      assert.equal(s.fromReplicas, replicas);
      replicas = s.toReplicas;
    }
    return scaled.map((s) => s.toReplicas);
  }

  it("20 concurrent ScaleService calls on one deployer are all served, in one gapless chain", async () => {
    await api.create(ECHO_JSON);
    const requested = Array.from({ length: 20 }, (_, i) => i + 2);
    await Promise.all(requested.map((replicas) => api.scale(ECHO_NAME, replicas)));

    const chain = await scaledChain();
    assert.deepEqual(
      [...chain].sort((a, b) => a - b),
      requested,
      "every acknowledged call is in the log, once",
    );
    const final = await api.get(ECHO_NAME);
    assert.equal(final.desiredInstances, chain.at(-1));
  });

  it("concurrent ScaleService calls through two deployers each succeed or fail cleanly, and only acknowledged ones are in the log", async (t) => {
    await api.create(ECHO_JSON);
    const other = await startApiServer(fx.store, "eas/deployer/test-second");
    t.after(() => other.stop());
    const requested = Array.from({ length: 20 }, (_, i) => i + 2);
    const outcomes = await Promise.allSettled(
      requested.map((replicas, i) => {
        const client = i % 2 === 0 ? fx.client : other.client;
        return unaryCall(client, client.scaleService, { name: ECHO_NAME, replicas, cause: "", reason: "" }, CALL_TIMEOUT_MS);
      }),
    );
    const succeeded = requested.filter((_, i) => outcomes[i]!.status === "fulfilled");
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") {
        const error = outcome.reason as ServiceError;
        // Between processes optimistic concurrency decides; a caller that keeps losing gets ABORTED, retryable, nothing written.
        assert.equal(error.code, status.ABORTED, `gRPC status ${status[error.code]} (${error.details})`);
        assert.match(error.details, /concurrent modification, retry/);
      }
    }
    t.diagnostic(`${succeeded.length} of ${requested.length} acknowledged`);
    assert.ok(succeeded.length >= 1, "at least one of them wins");

    const chain = await scaledChain();
    assert.deepEqual(
      [...chain].sort((a, b) => a - b),
      [...succeeded].sort((a, b) => a - b),
      "exactly the acknowledged calls are in the log",
    );
    const final = await api.get(ECHO_NAME);
    assert.equal(final.desiredInstances, chain.at(-1));
  });

  it("a command whose client gave up while it waited for its turn is not written", async (t) => {
    await api.create(ECHO_JSON);
    // A deadline far shorter than the queue (each turn is a read and an append on JetStream, a few ms):
    // the later calls time out while they wait for their turn.
    const requested = Array.from({ length: 60 }, (_, i) => i + 2);
    const outcomes = await Promise.allSettled(
      requested.map((replicas) => unaryCall(fx.client, fx.client.scaleService, { name: ECHO_NAME, replicas, cause: "", reason: "" }, 30)),
    );
    const succeeded = requested.filter((_, i) => outcomes[i]!.status === "fulfilled");
    const timedOut = outcomes.filter((o) => o.status === "rejected" && (o.reason as ServiceError).code === status.DEADLINE_EXCEEDED).length;
    t.diagnostic(`${succeeded.length} acknowledged, ${timedOut} timed out`);
    assert.ok(timedOut > 0, "precondition: some calls timed out in the queue");
    // Let whatever was still queued on the server run (or be dropped) before reading the log.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const chain = await scaledChain();
    // Commands on one service run one at a time: only the one running when the deadline passed, and one
    // that began its turn while the cancellation was still on its way to the server, can be written
    // without an answer; none of the many still waiting for their turn.
    const unacknowledged = chain.filter((replicas) => !succeeded.includes(replicas));
    assert.ok(unacknowledged.length <= 2, `written without an answer: ${unacknowledged.join(", ")} (of ${timedOut} timed out)`);
  });

  it("concurrent merge updates of different fields all survive in the current version", async () => {
    await api.create(ECHO_JSON);
    const patches = [
      { metadata: { cpu: 2 } },
      { metadata: { memory: 2048 } },
      { labels: { team: "a" } },
      { processor_config: { latency_ms: 7 } },
    ];
    const outcomes = await Promise.allSettled(patches.map((patch) => api.update(ECHO_NAME, JSON.stringify(patch), "merge")));
    for (const outcome of outcomes) {
      if (outcome.status === "rejected") assert.equal((outcome.reason as ServiceError).code, status.ABORTED);
    }
    const applied = outcomes.flatMap((o, i) => (o.status === "fulfilled" ? [i] : []));
    assert.ok(applied.length >= 1);

    const current = await api.get(ECHO_NAME);
    assert.equal(current.currentVersion, 1 + applied.length, "one version per acknowledged update");
    const spec = JSON.parse(current.specJson) as {
      resources: { cpuMillis: number; memoryMib: number };
      labels?: Record<string, string>;
      processor?: { configJson: string };
    };
    const survived = [
      spec.resources.cpuMillis === 2000,
      spec.resources.memoryMib === 2048,
      spec.labels?.team === "a",
      (JSON.parse(spec.processor?.configJson ?? "{}") as { latency_ms?: number }).latency_ms === 7,
    ];
    for (const i of applied) assert.ok(survived[i], `acknowledged patch ${JSON.stringify(patches[i])} is in the current version`);
  });

  it("a merge update concurrent with a scale never undoes the acknowledged scale", async () => {
    await api.create(ECHO_JSON);
    // Which of the two appends first varies from run to run; several rounds cover both orders.
    for (let round = 1; round <= 5; round++) {
      const replicas = round + 1;
      const memory = 256 + round * 64;
      const [updated, scaled] = await Promise.allSettled([
        api.update(ECHO_NAME, JSON.stringify({ metadata: { memory } })),
        api.scale(ECHO_NAME, replicas),
      ]);
      for (const outcome of [updated, scaled]) {
        if (outcome.status === "rejected") assert.equal((outcome.reason as ServiceError).code, status.ABORTED);
      }
      const current = await api.get(ECHO_NAME);
      if (scaled.status === "fulfilled") assert.equal(current.desiredInstances, replicas, `round ${round}: the acknowledged scale holds`);
      if (updated.status === "fulfilled") assert.equal(specOf(current).resources.memoryMib, memory, `round ${round}: the update holds`);
    }
  });
});

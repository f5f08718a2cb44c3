/**
 * An outside system can consume EAS events with nothing but a NATS client and our .proto files.
 *
 * The writer side is EAS itself (the JetStream event store appending an `eas.v1.ServiceCreated`). The
 * subscriber side imports nothing from EAS except the harness that starts nats-server: it uses the
 * official NATS clients and protobufjs on proto/eas/v1/*.proto, reads the CloudEvents headers, looks the
 * `ce-type` up in the .proto, and decodes the proto3-JSON body. The last case's subscriber is not even
 * JavaScript: `e2e/clients/nats_subscriber.py` speaks the NATS protocol over a socket.
 */
import assert from "node:assert/strict";
import { createHash, randomUUID } from "node:crypto";
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
// Writer side (EAS).
import { connectJetStreamEventStore, VersionConflictError, type EventStore, type JsonObject, type RecordedEvent } from "@eas/event-store";
import { serviceDecider } from "@eas/deployer";
import { ServiceCreated, ServiceSpec } from "@eas/proto";
// Harness.
import { startNatsServer, waitFor, type NatsServerHandle } from "@eas/testing";
// Subscriber side: third-party clients only.
import { jetstream } from "@nats-io/jetstream";
import { connect, type Msg, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import protobuf from "protobufjs";

const PROTO_ROOT = fileURLToPath(new URL("../../proto", import.meta.url));
const PYTHON_SUBSCRIBER = fileURLToPath(new URL("../clients/nats_subscriber.py", import.meta.url));

let server: NatsServerHandle;
let store: EventStore;
let outsider: NatsConnection;
let root: protobuf.Root;

before(async () => {
  server = await startNatsServer();
  store = await connectJetStreamEventStore({ servers: server.url });
  outsider = await connect({ servers: server.url, name: "external-subscriber" });
  root = new protobuf.Root();
  // Imports inside the .proto files ("eas/v1/spec.proto") are relative to the proto root.
  root.resolvePath = (_origin, target) => join(PROTO_ROOT, target);
  await root.load("eas/v1/events.proto");
  root.resolveAll();
});

after(async () => {
  await outsider?.close();
  await store?.close();
  await server?.stop();
});

/** The token the writer generated; no event may carry it (ADR 0027). */
const TOKEN = "tok-123-a-secret-only-the-deployer-api-returns";
/** What events carry instead, computed here as any outsider would: SHA-256, lowercase hex. */
const tokenSha256 = (token: string) => createHash("sha256").update(token).digest("hex");

/** A ServiceCreated as the deployer's decider writes it. */
function serviceCreated(name: string): { data: JsonObject } {
  const spec = ServiceSpec.fromPartial({
    name,
    instance: 2,
    resources: { cpuMillis: 1500, memoryMib: 2048, gpu: 1, gpuType: "T4" },
    rpc: { keepaliveMs: 5000, maxConcurrency: 8 },
    runtime: { $case: "processor", value: { name: "onnx", modelPath: "/models/iris.onnx" } },
    storage: [{ mountPath: "/models", source: "obj://models/iris", readOnly: true }],
    cloud: { spotAllowed: true, maxSpotPrice: 0.25 },
    labels: { team: "ml" },
  });
  const [created] = serviceDecider.decide(
    { type: "CreateService", spec, tokenSha256: tokenSha256(TOKEN), now: "2026-02-03T04:05:06.000Z" },
    serviceDecider.initialState(),
  );
  assert.ok(created?.type === "eas.v1.ServiceCreated");
  return { data: ServiceCreated.toJSON(created.data) as JsonObject };
}

/** What no event body may hold: the token, or a field named token with a value. */
function assertNoToken(body: string): void {
  assert.ok(!body.includes(TOKEN), `an event carries the clear token: ${body}`);
  assert.doesNotMatch(body, /"token"\s*:\s*"[^"]/, `an event has a token field: ${body}`);
}

/** What the outside system does with one NATS message: CloudEvents headers -> .proto type -> fields. */
function decodeAsOutsider(headers: MsgHdrs | undefined, body: Uint8Array) {
  assert.ok(headers, "events carry CloudEvents headers");
  assert.equal(headers.get("ce-specversion"), "1.0");
  assert.equal(headers.get("content-type"), "application/json");
  const ceType = headers.get("ce-type");
  const type = root.lookupType(ceType);
  const json = JSON.parse(new TextDecoder().decode(body)) as Record<string, unknown>;
  assert.equal(type.verify(json), null, `the body is a valid ${ceType}`);
  const message = type.fromObject(json);
  return {
    ceType,
    headers,
    json,
    fields: type.toObject(message, { defaults: false, longs: String }) as Record<string, unknown>,
  };
}

describe("an external subscriber with only a NATS client and the .proto files", () => {
  it("replays stored events through a JetStream consumer and decodes them", async () => {
    const { data } = serviceCreated("iris");
    const id = randomUUID();
    await store.append("service-iris", [{ id, type: "eas.v1.ServiceCreated", data, metadata: { source: "eas/deployer" } }], {
      expectedRevision: "no_stream",
    });

    const js = jetstream(outsider);
    // Durable replay: a JetStream consumer on the log's stream, filtered on the stored subjects.
    const consumer = await js.consumers.get("EAS_LOG", { filter_subjects: "eas.log.service.>" });
    const stored = await consumer.next({ expires: 5_000 });
    assert.ok(stored, "the stored event is delivered");
    await consumer.delete();
    assert.equal(stored.subject, "eas.log.service.iris");

    const decoded = decodeAsOutsider(stored.headers, stored.data);
    assert.equal(decoded.ceType, "eas.v1.ServiceCreated");
    assert.equal(decoded.headers.get("ce-id"), id);
    assert.equal(decoded.headers.get("ce-source"), "eas/deployer");
    assert.equal(decoded.headers.get("ce-subject"), "service-iris");
    assert.ok(!Number.isNaN(Date.parse(decoded.headers.get("ce-time"))), "ce-time is RFC 3339");
    const fields = decoded.fields as {
      name: string;
      version: number;
      token?: string;
      tokenSha256: string;
      createdAt: string;
      spec: {
        name: string;
        instance: number;
        resources: { cpuMillis: number; memoryMib: number; gpu: number; gpuType: string };
        rpc: { keepaliveMs: number; maxConcurrency: number };
        processor: { name: string; modelPath: string };
        storage: { mountPath: string; source: string; readOnly: boolean }[];
        cloud: { spotAllowed: boolean; maxSpotPrice: number };
        labels: Record<string, string>;
      };
    };
    assert.equal(fields.name, "iris");
    assert.equal(fields.version, 1);
    // The gateway's check: the token's digest, never the token.
    assert.equal(fields.token, undefined);
    assert.equal(fields.tokenSha256, tokenSha256(TOKEN));
    assertNoToken(new TextDecoder().decode(stored.data));
    assert.equal(fields.createdAt, "2026-02-03T04:05:06.000Z");
    assert.equal(fields.spec.instance, 2);
    assert.deepEqual(fields.spec.resources, { cpuMillis: 1500, memoryMib: 2048, gpu: 1, gpuType: "T4" });
    assert.deepEqual(fields.spec.rpc, { keepaliveMs: 5000, maxConcurrency: 8 });
    assert.deepEqual(fields.spec.processor, { name: "onnx", modelPath: "/models/iris.onnx" });
    assert.deepEqual(fields.spec.storage, [{ mountPath: "/models", source: "obj://models/iris", readOnly: true }]);
    assert.deepEqual(fields.spec.cloud, { spotAllowed: true, maxSpotPrice: 0.25 });
    assert.deepEqual(fields.spec.labels, { team: "ml" });
    // Nothing was lost on the way: the outsider's message re-encodes to the JSON that was written.
    assert.deepEqual(decoded.json, data);
  });

  it("receives live events on a plain NATS subscription to eas.events.>", async () => {
    const received = new Promise<Msg>((resolve, reject) => {
      const subscription = outsider.subscribe("eas.events.>", { max: 1, timeout: 10_000 });
      void (async () => {
        try {
          for await (const message of subscription) resolve(message);
        } catch (error) {
          reject(error instanceof Error ? error : new Error(String(error)));
        }
      })();
    });
    await outsider.flush();
    const { data } = serviceCreated("resnet");
    await store.append("service-resnet", [{ id: randomUUID(), type: "eas.v1.ServiceCreated", data }], {
      expectedRevision: "no_stream",
    });
    const message = await received;
    assert.equal(message.subject, "eas.events.service.resnet");
    const decoded = decodeAsOutsider(message.headers, message.data);
    assert.equal(decoded.ceType, "eas.v1.ServiceCreated");
    assert.equal((decoded.fields as { name: string }).name, "resnet");
    assertNoToken(new TextDecoder().decode(message.data));
    assert.equal(decoded.headers.get("eas-revision"), "0");
    const [recorded] = await store.readStream("service-resnet");
    assert.equal(decoded.headers.get("Nats-Sequence"), String(recorded!.position), "the position in the log");
  });

  it("sees, in another language, exactly the committed events: once each, in log order, under conflicting writers", async () => {
    const python = spawn(process.env.PYTHON ?? "python3", [PYTHON_SUBSCRIBER, server.url, "eas.events.>"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    python.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const spawned = new Promise<void>((resolve, reject) => {
      python.once("spawn", resolve);
      python.once("error", (error) => reject(new Error(`python3 is needed for this black-box test: ${error.message}`)));
    });
    await spawned;
    const lines: string[] = [];
    createInterface({ input: python.stdout }).on("line", (line) => lines.push(line));
    try {
      await waitFor(
        "the python subscriber to be ready",
        () => {
          if (python.exitCode !== null) throw new Error(`the python subscriber exited: ${stderr}`);
          return lines[0] === "ready";
        },
        { timeoutMs: 10_000 },
      );
      const headBefore = await store.headPosition();
      // Services created the way the deployer creates them: their events must reach the subscriber without a token.
      for (const name of ["black_box_a", "black_box_b"]) {
        await store.append(`service-${name}`, [{ id: randomUUID(), type: "eas.v1.ServiceCreated", data: serviceCreated(name).data }], {
          expectedRevision: "no_stream",
        });
      }
      let conflicts = 0;
      // Six writers decide from the revision they last read and race on two services.
      await Promise.all(
        Array.from({ length: 6 }, async () => {
          for (let i = 0; i < 15; i++) {
            const stream = i % 2 === 0 ? "service-contended" : "instance-contended-1";
            for (;;) {
              const last = (await store.readStream(stream)).at(-1)?.revision;
              try {
                await store.append(stream, [{ id: randomUUID(), type: "eas.v1.ServiceScaled", data: { name: "contended", replicas: i } }], {
                  expectedRevision: last ?? "no_stream",
                });
                break;
              } catch (error) {
                if (!(error instanceof VersionConflictError)) throw error;
                conflicts++;
              }
            }
          }
        }),
      );
      assert.ok(conflicts > 0, "the writers must have conflicted for this test to mean anything");
      const committed: RecordedEvent[] = [];
      for await (const event of store.readAll({ afterPosition: headBefore })) committed.push(event);
      await waitFor("the python subscriber to print every committed event", () => lines.length - 1 >= committed.length, {
        timeoutMs: 10_000,
      });
      await new Promise((resolve) => setTimeout(resolve, 200)); // anything extra would show up now
      const received = lines.slice(1).map((line) => JSON.parse(line) as { subject: string; headers: Record<string, string>; data: string });
      for (const message of received) assertNoToken(message.data);
      assert.equal(received.filter((m) => m.headers["ce-type"] === "eas.v1.ServiceCreated").length, 2);
      assert.deepEqual(
        received.map((m) => ({
          subject: m.subject,
          id: m.headers["ce-id"],
          position: Number(m.headers["Nats-Sequence"]),
          revision: Number(m.headers["eas-revision"]),
        })),
        committed.map((e) => ({
          subject: `eas.events.${e.stream.replace("-", ".")}`,
          id: e.id,
          position: e.position,
          revision: e.revision,
        })),
      );
    } finally {
      python.kill("SIGTERM");
    }
  });
});

import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Objm } from "@nats-io/obj";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { connectJetStreamEventStore, type EventStore } from "@eas/event-store";
import { uploadToObjectStore } from "@eas/object-store";
import { ServiceSpec } from "@eas/proto";
import { createLogger } from "@eas/telemetry";
import { startNatsServer, waitFor, type NatsServerHandle } from "@eas/testing";
import { ProcessDriver } from "../runtime/index.js";
import { createStorageFetcher, digestKey } from "../storage/index.js";
import { InstanceSupervisor } from "./supervisor.js";

const WAIT = { timeoutMs: 20_000 };

describe("a stopped instance's cache entries are evicted when the cache is over its budget", () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let store: EventStore;
  let work: string;
  let supervisor: InstanceSupervisor;

  before(async () => {
    nats = await startNatsServer();
    nc = await connect({ servers: nats.url });
    store = await connectJetStreamEventStore({ nc });
    work = await mkdtemp(join(tmpdir(), "eas-supervisor-eviction-"));
  });

  after(async () => {
    await supervisor?.stopAll(0);
    await store?.close();
    await nc?.close();
    await nats?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it("keeps the model while the instance runs, and frees it once the instance is stopped", async () => {
    await writeFile(join(work, "model.bin"), "m".repeat(4096));
    const [uploaded] = await uploadToObjectStore(nc, join(work, "model.bin"), "obj://models/model.bin");
    assert.ok(uploaded);
    const nodeDir = join(work, "node");
    const cacheDir = join(work, "cache");
    // A budget smaller than the one model: only the instance's use keeps it in the cache.
    const storage = createStorageFetcher({
      cacheDir,
      objectStore: new Objm(nc),
      eviction: { maxBytes: 1, instancesDir: join(nodeDir, "instances") },
    });
    supervisor = new InstanceSupervisor({
      nodeId: "node-e",
      store,
      driver: new ProcessDriver({ killGracePeriodMs: 500 }),
      storage,
      nodeDir,
      repoRoot: work,
      logger: createLogger({ name: "supervisor-eviction-test", level: "silent" }),
      source: "eas/agent/node-e",
    });
    const spec = ServiceSpec.fromPartial({
      name: "svc",
      runtime: { $case: "container", value: { command: "exec sleep 300", port: 8000 } },
      storage: [{ mountPath: "/eas/model", source: "obj://models/model.bin", readOnly: true }],
    });
    await supervisor.start("evict-1", "svc", 1, spec);
    const cached = join(cacheDir, "objects", digestKey({ ...uploaded, nuid: "" }));
    await waitFor("the instance's process running", () => supervisor.get("evict-1")?.pid || undefined, WAIT);
    // Passes ran after the materialize; the entry is in use, so it stays although the cache is over budget.
    await storage.evictUnused();
    assert.ok(existsSync(cached), "an entry in use is never evicted");

    await supervisor.stop("evict-1", 500);
    await waitFor("the model evicted after the stop", () => !existsSync(cached), WAIT);
  });
});

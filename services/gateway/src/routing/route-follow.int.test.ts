import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { connectJetStreamEventStore, type EventStore } from "@eas/event-store";
import { event, instanceStream, serviceStream, tokenSha256, toNewEvent, type EasEvent } from "@eas/events";
import { createProjectionRunner, type ProjectionRunner } from "@eas/projections";
import { ServiceSpec } from "@eas/proto";
import { startNatsServer, waitFor, type NatsServerHandle } from "@eas/testing";
import type { GatewayErrorBody } from "../proxy/errors.js";
import { startBackend, startGateway, type CallResult, type TestBackend, type TestGateway } from "../proxy/test-support.js";
import { routeSyncOnEvent, syncAllRoutes } from "./route-sync.js";
import { routesProjection, type RoutesState } from "./routes-projection.js";

/** A gateway process in miniature: its own event-store connection, the routes projection, the proxy over the synced table. */
interface FollowingGateway extends TestGateway {
  readonly runner: ProjectionRunner<RoutesState>;
}

describe("gateway routes follow the event log (JetStream)", () => {
  let nats: NatsServerHandle;
  let writer: EventStore;
  const cleanups: (() => Promise<void>)[] = [];

  before(async () => {
    nats = await startNatsServer();
    writer = await connectJetStreamEventStore({ servers: nats.url, connectionName: "route-follow-writer" });
  });
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await writer?.close();
    await nats?.stop();
  });

  async function startFollowingGateway(): Promise<FollowingGateway> {
    const store = await connectJetStreamEventStore({ servers: nats.url, connectionName: "route-follow-gateway" });
    const gw = await startGateway([]);
    // The same wiring as app.ts: no checkpoint, the table synced on every applied event.
    const runner = createProjectionRunner({ store, projection: routesProjection, onEvent: routeSyncOnEvent(gw.routes) });
    await runner.start();
    syncAllRoutes(gw.routes, runner.state);
    cleanups.push(async () => {
      await gw.close();
      await runner.stop();
      await store.close();
    });
    return Object.assign(gw, { runner });
  }

  async function startInstance(id: string): Promise<TestBackend> {
    const backend = await startBackend(id);
    cleanups.push(() => backend.close());
    return backend;
  }

  /** Appends as the deployer or agent would: one event to its aggregate's stream. */
  async function append(e: EasEvent): Promise<void> {
    const data = e.data as { instanceId?: string; name?: string };
    const stream = data.instanceId ? instanceStream(data.instanceId) : serviceStream(data.name ?? "");
    await writer.append(stream, [toNewEvent(e, randomUUID(), { source: "eas/route-follow-test" })], { expectedRevision: "any" });
  }

  const now = () => new Date().toISOString();
  const created = (name: string, token: string) =>
    event("ServiceCreated", {
      name,
      spec: ServiceSpec.fromPartial({ name, instance: 1, rpc: { keepaliveMs: 5_000, maxConcurrency: 8, maxQueueSize: 16, rateLimit: 0 } }),
      version: 1,
      token: "",
      createdAt: now(),
      tokenSha256: tokenSha256(token),
    });
  const starting = (service: string, instance: TestBackend) =>
    event("InstanceStarting", { instanceId: instance.id, service, nodeId: "n1", restartCount: 0, at: now() });
  const ready = (service: string, instance: TestBackend) =>
    event("InstanceReady", { instanceId: instance.id, service, version: 1, nodeId: "n1", endpoint: instance.endpoint, at: now() });

  const predict = (gw: TestGateway, service: string, token: string) =>
    gw.call(`/api/predict/${service}/v1/infer`, { token, body: '{"x":1}' });
  const waitForStatus = (gw: TestGateway, service: string, token: string, status: number): Promise<CallResult> =>
    waitFor(`${service} answers ${status}`, async () => {
      const response = await predict(gw, service, token);
      return response.status === status && response;
    });

  it("routes to an instance once its Ready is appended, answers 503 once it drained and stopped, and 404 once the service is deleted", async () => {
    const gw = await startFollowingGateway();
    const instance = await startInstance("live-1");
    const token = `tok-${randomUUID()}`;

    await append(created("live", token));
    await append(starting("live", instance));
    await append(ready("live", instance));
    const routed = await waitForStatus(gw, "live", token, 200);
    assert.equal(routed.json<{ backend: string }>().backend, "live-1");
    assert.equal(routed.headers["x-eas-instance"], "live-1");
    assert.equal((await predict(gw, "live", "not-the-token")).status, 401);

    await append(event("InstanceDraining", { instanceId: instance.id, service: "live", at: now() }));
    await append(event("InstanceStopped", { instanceId: instance.id, service: "live", nodeId: "n1", reason: "drained", at: now() }));
    const unavailable = await waitForStatus(gw, "live", token, 503);
    assert.ok(Number(unavailable.headers["retry-after"]) > 0, `Retry-After is ${String(unavailable.headers["retry-after"])}`);
    assert.equal(unavailable.json<GatewayErrorBody>().error.code, "ServiceUnavailable");
    const hitsWhenStopped = instance.hits;
    assert.equal((await predict(gw, "live", token)).status, 503);
    assert.equal(instance.hits, hitsWhenStopped, "a stopped instance got a request");

    await append(event("ServiceDeleted", { name: "live", deletedAt: now() }));
    const gone = await waitForStatus(gw, "live", token, 404);
    assert.equal(gone.json<GatewayErrorBody>().error.code, "ServiceNotFound");
    assert.equal(gw.routes.get("live"), undefined);
  });

  it("a gateway started after the events were appended replays them and routes the same", async () => {
    const kept = await startInstance("replay-kept");
    const drained = await startInstance("replay-drained");
    const token = `tok-${randomUUID()}`;
    await append(created("replayed", token));
    for (const instance of [kept, drained]) {
      await append(starting("replayed", instance));
      await append(ready("replayed", instance));
    }
    await append(event("InstanceDraining", { instanceId: drained.id, service: "replayed", at: now() }));
    // A late Ready of the drained instance: on replay, as live, it must not come back.
    await append(ready("replayed", drained));
    await append(created("replayed-gone", token));
    await append(event("ServiceDeleted", { name: "replayed-gone", deletedAt: now() }));

    const gw = await startFollowingGateway();
    await gw.runner.caughtUp;
    assert.deepEqual(
      gw.routes.get("replayed")?.instances.map((i) => i.id),
      ["replay-kept"],
    );
    for (let k = 0; k < 4; k++) {
      const response = await predict(gw, "replayed", token);
      assert.equal(response.status, 200);
      assert.equal(response.json<{ backend: string }>().backend, "replay-kept");
    }
    assert.equal(drained.hits, 0);
    assert.equal((await predict(gw, "replayed-gone", token)).status, 404);
  });
});

/*
 * The ReleaseManager gRPC API against a real nats-server: the JetStream event store, the service and group
 * views through the projection runner, and a real grpc-js server beside ServiceManager, as app.ts wires them
 * (without reconciler, scheduler, agents or the release analyser). These tests hold the API contract: bad input
 * is INVALID_ARGUMENT naming the field with nothing written; canaries, mirrors and groups are recorded and shown.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { connectJetStreamEventStore, type EventStore } from "@eas/event-store";
import { decodeEvent, tokenSha256 } from "@eas/events";
import { createProjectionRunner, type ProjectionRunner } from "@eas/projections";
import {
  ReleaseManagerClient,
  ReleaseManagerService,
  ServiceManagerClient,
  ServiceManagerService,
  unaryCall,
  type StartReleaseRequest,
} from "@eas/proto";
import { startGrpcServer, type GrpcServerHandle } from "@eas/service-kit";
import { createLogger } from "@eas/telemetry";
import { freePort, startNatsServer, type NatsServerHandle } from "@eas/testing";
import { groupViewsProjection, type GroupViews } from "../projections/group-views.js";
import { serviceViewsProjection, type ServiceViews } from "../projections/service-views.js";
import { createServiceTokens, memoryTokenVault } from "../tokens/service-tokens.js";
import { createReleaseManager } from "./release-manager.js";
import { createServiceManager } from "./service-manager.js";

const GATEWAY_URL = "http://gateway.test:8080";
const echoSpec = (name: string) => JSON.stringify({ name, processor: "echo", metadata: { instance: 2 } });

interface Fixture {
  store: EventStore;
  views: ProjectionRunner<ServiceViews>;
  groups: ProjectionRunner<GroupViews>;
  services: ServiceManagerClient;
  releases: ReleaseManagerClient;
  server: GrpcServerHandle;
}

let nats: NatsServerHandle;
let fx: Fixture;

before(async () => {
  nats = await startNatsServer();
});
after(async () => {
  await nats.stop();
});

beforeEach(async () => {
  const tag = randomUUID().replaceAll("-", "").slice(0, 12);
  const store = await connectJetStreamEventStore({ servers: nats.url, streamName: `RM_${tag}`, subjectPrefix: `rm${tag}.events` });
  const logger = createLogger({ name: "release-manager-test", level: "silent" });
  const views = createProjectionRunner({ store, projection: serviceViewsProjection });
  const groups = createProjectionRunner({ store, projection: groupViewsProjection });
  await Promise.all([views.start(), groups.start()]);
  await Promise.all([views.caughtUp, groups.caughtUp]);
  const tokens = createServiceTokens({ vault: memoryTokenVault(), store });
  const common = { store, views, logger, gatewayUrl: GATEWAY_URL, tokens, now: () => new Date(), source: `eas/deployer/test-${tag}` };
  const server = await startGrpcServer(
    [
      {
        definition: ServiceManagerService,
        implementation: createServiceManager({ ...common, groupExists: (name) => groups.state[name] !== undefined }),
      },
      { definition: ReleaseManagerService, implementation: createReleaseManager({ ...common, groups }) },
    ],
    "127.0.0.1",
    await freePort(),
  );
  const address = `127.0.0.1:${server.port}`;
  fx = {
    store,
    views,
    groups,
    server,
    services: new ServiceManagerClient(address, credentials.createInsecure()),
    releases: new ReleaseManagerClient(address, credentials.createInsecure()),
  };
});
afterEach(async () => {
  fx.services.close();
  fx.releases.close();
  await fx.server.stop(1_000);
  await Promise.all([fx.views.stop(), fx.groups.stop()]);
  await fx.store.close();
});

const create = (name: string) => unaryCall(fx.services, fx.services.createService, { spec: echoSpec(name) });
const stage = (name: string) =>
  unaryCall(fx.services, fx.services.updateService, {
    name,
    spec: `{"processor_config": "{\\"latency_ms\\": 1}"}`,
    updateType: "merge",
    stage: true,
  });
const startRelease = (request: Partial<StartReleaseRequest> & { name: string }) =>
  unaryCall(fx.releases, fx.releases.startRelease, { version: 0, spec: "", updateType: "", plan: undefined, ...request });

/** The call fails with INVALID_ARGUMENT naming `field`, and the log does not move. */
async function refusesNaming(field: string, call: () => Promise<unknown>): Promise<void> {
  const before = await fx.store.headPosition();
  await assert.rejects(call(), (error: ServiceError) => {
    assert.equal(error.code, status.INVALID_ARGUMENT, `${status[error.code]}: ${error.details}`);
    const [raw] = error.metadata?.get("eas-field-violations-bin") ?? [];
    assert.ok(Buffer.isBuffer(raw));
    assert.ok(
      (JSON.parse(raw.toString("utf8")) as { path: string }[]).some((v) => v.path === field),
      `${field} in ${error.details}`,
    );
    return true;
  });
  assert.equal(await fx.store.headPosition(), before, "a refused call appended events");
}

describe("ReleaseManager", () => {
  it("refuses bad input with INVALID_ARGUMENT naming the field, writing nothing", async () => {
    await create("iris");
    await create("shadow");
    const staged = await stage("iris");
    assert.equal(staged.currentVersion, 1, "a staged version does not roll out");
    assert.equal(staged.latestVersion, 2);

    await refusesNaming("weight", () => startRelease({ name: "iris", version: 2, weight: 101 }));
    await refusesNaming("version", () => startRelease({ name: "iris", version: 9, weight: 10 }));
    await refusesNaming("version", () => startRelease({ name: "iris", version: 1, weight: 10 }));
    await refusesNaming("weight", () => startRelease({ name: "iris", spec: `{"processor_config": "{}"}`, weight: 300 }));
    const steps = [
      { weight: 50, bakeSeconds: 10 },
      { weight: 10, bakeSeconds: 10 },
    ];
    await refusesNaming("plan.steps[1].weight", () => startRelease({ name: "iris", version: 2, plan: { steps, gates: undefined } }));
    await refusesNaming("members[1].service", () =>
      unaryCall(fx.releases, fx.releases.createGroup, {
        name: "flowers",
        members: [
          { service: "iris", weight: 50 },
          { service: "nope", weight: 50 },
        ],
      }),
    );
    await refusesNaming("target", () =>
      unaryCall(fx.releases, fx.releases.setMirror, { name: "iris", target: "iris", targetVersion: 0, ratio: 20 }),
    );
    await refusesNaming("target", () =>
      unaryCall(fx.releases, fx.releases.setMirror, { name: "iris", target: "nope", targetVersion: 0, ratio: 20 }),
    );
    await refusesNaming("target_version", () =>
      unaryCall(fx.releases, fx.releases.setMirror, { name: "iris", target: "shadow", targetVersion: 5, ratio: 20 }),
    );
    await refusesNaming("ratio", () =>
      unaryCall(fx.releases, fx.releases.setMirror, { name: "iris", target: "shadow", targetVersion: 0, ratio: 101 }),
    );
    assert.equal((await unaryCall(fx.releases, fx.releases.getRelease, { name: "iris" })).canary, undefined);
  });

  it("starts a canary from a spec, changes its weight, shows it, and aborts it", async () => {
    await create("iris");
    const started = await startRelease({ name: "iris", spec: `{"processor_config": "{\\"latency_ms\\": 1}"}`, weight: 10 });
    assert.equal(started.stableVersion, 1);
    assert.deepEqual([started.canary?.version, started.canary?.weight, started.canary?.replicas], [2, 10, 1]);
    const info = await unaryCall(fx.services, fx.services.getService, { name: "iris" });
    assert.equal(info.canary?.version, 2, "eas desc shows the canary");
    assert.equal(info.currentVersion, 1);

    const reweighted = await startRelease({ name: "iris", version: 2, weight: 60 });
    assert.deepEqual([reweighted.canary?.weight, reweighted.canary?.replicas], [60, 2]);
    await assert.rejects(
      startRelease({ name: "iris", version: 2, weight: 50, plan: { steps: [{ weight: 20, bakeSeconds: 5 }], gates: undefined } }),
      {
        code: status.FAILED_PRECONDITION,
      },
    );

    const aborted = await unaryCall(fx.releases, fx.releases.abortRelease, { name: "iris", reason: "" });
    assert.equal(aborted.canary, undefined);
    assert.deepEqual([aborted.last?.version, aborted.last?.outcome, aborted.last?.reason], [2, "aborted", "aborted by the user"]);
    const types = (await fx.store.readStream("service-iris")).map((r) => decodeEvent(r)?.type);
    assert.deepEqual(types.slice(1), [
      "eas.v1.ServiceVersionAdded",
      "eas.v1.CanaryStarted",
      "eas.v1.CanaryWeightChanged",
      "eas.v1.CanaryAborted",
    ]);
  });

  it("records a release plan with its defaults filled, at weight 0 until the canary is Ready", async () => {
    await create("iris");
    await stage("iris");
    const plan = {
      steps: [
        { weight: 10, bakeSeconds: 5 },
        { weight: 100, bakeSeconds: 0 },
      ],
      gates: { minRequests: 20 },
    };
    const status_ = await startRelease({ name: "iris", version: 2, weight: 90, plan });
    assert.equal(status_.canary?.weight, 0);
    assert.equal(status_.plan?.step, 0);
    assert.equal(status_.plan?.plan?.gates?.minRequests, 20);
    assert.equal(status_.plan?.plan?.gates?.maxErrorRatioIncrease, 0.01);
    const promoted = await unaryCall(fx.releases, fx.releases.promoteRelease, { name: "iris" });
    assert.deepEqual([promoted.stableVersion, promoted.last?.outcome, promoted.last?.cause], [2, "promoted", "user"]);
  });

  it("sets and removes a mirror", async () => {
    await create("iris");
    await create("shadow");
    const set = await unaryCall(fx.releases, fx.releases.setMirror, { name: "iris", target: "shadow", targetVersion: 1, ratio: 50 });
    assert.deepEqual([set.mirror?.target, set.mirror?.targetVersion, set.mirror?.ratio], ["shadow", 1, 50]);
    const off = await unaryCall(fx.releases, fx.releases.setMirror, { name: "iris", target: "", targetVersion: 0, ratio: 0 });
    assert.equal(off.mirror, undefined);
  });

  it("creates, updates, lists and deletes a group with its own token", async () => {
    await create("iris");
    await create("iris_b");
    const members = [
      { service: "iris", weight: 80 },
      { service: "iris_b", weight: 20 },
    ];
    const group = await unaryCall(fx.releases, fx.releases.createGroup, { name: "flowers", members });
    assert.equal(group.endpoint, `${GATEWAY_URL}/api/predict/flowers`);
    assert.ok(group.token.length >= 20);
    const iris = await unaryCall(fx.services, fx.services.getService, { name: "iris" });
    assert.notEqual(group.token, iris.token, "the group has a token of its own");
    const [created] = (await fx.store.readStream("group-flowers")).map((r) => decodeEvent(r));
    assert.equal(
      created?.type === "eas.v1.ServiceGroupCreated" && created.data.tokenSha256,
      tokenSha256(group.token),
      "the log holds the digest only",
    );
    assert.deepEqual(
      group.members.map((m) => [m.service, m.weight, m.exists]),
      [
        ["iris", 80, true],
        ["iris_b", 20, true],
      ],
    );

    const updated = await unaryCall(fx.releases, fx.releases.updateGroup, { name: "flowers", members: [{ service: "iris", weight: 100 }] });
    assert.deepEqual(
      updated.members.map((m) => m.service),
      ["iris"],
    );
    assert.deepEqual(
      (await unaryCall(fx.releases, fx.releases.listGroups, {})).groups.map((g) => g.name),
      ["flowers"],
    );
    await assert.rejects(unaryCall(fx.services, fx.services.createService, { spec: echoSpec("flowers") }), {
      code: status.INVALID_ARGUMENT,
    });
    await refusesNaming("name", () => unaryCall(fx.releases, fx.releases.createGroup, { name: "iris", members }));

    await unaryCall(fx.releases, fx.releases.deleteGroup, { name: "flowers" });
    await assert.rejects(unaryCall(fx.releases, fx.releases.getGroup, { name: "flowers" }), { code: status.NOT_FOUND });
  });
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { RecordedEvent } from "@eas/event-store";
import { encodeEventData, event, type EasEvent } from "@eas/events";
import { ServiceSpec } from "@eas/proto";
import { serviceViewsProjection, type ServiceViews } from "./service-views.js";
import { serviceWarnings, summarizeStatus } from "./status.js";

let position = 0;
const at = (s: number) => new Date(Date.UTC(2026, 10, 28, 12, 0, s)).toISOString();
function fold(events: EasEvent[], start: ServiceViews = serviceViewsProjection.initialState()): ServiceViews {
  return events.reduce((views, e) => {
    position++;
    const recorded: RecordedEvent = {
      id: `e${position}`,
      type: e.type,
      stream: "x-y",
      revision: 0,
      position,
      time: new Date(0),
      data: encodeEventData(e),
      metadata: {},
    };
    return serviceViewsProjection.evolve(views, recorded);
  }, start);
}

const created = event("ServiceCreated", {
  name: "iris",
  spec: ServiceSpec.fromPartial({ name: "iris", instance: 1 }),
  version: 1,
  token: "",
  createdAt: at(0),
  tokenSha256: "ab12",
});
const scheduled = (id: string) =>
  event("InstanceScheduled", {
    instanceId: id,
    service: "iris",
    version: 1,
    nodeId: "n1",
    resources: undefined,
    pool: "public",
    spot: false,
    at: at(1),
  });
/** Started and Ready: the two events an agent reports for an instance that comes up. */
const ready = (id: string): EasEvent[] => [
  event("InstanceStarting", { instanceId: id, service: "iris", nodeId: "n1", restartCount: 0, at: at(2) }),
  event("InstanceReady", { instanceId: id, service: "iris", version: 1, nodeId: "n1", endpoint: "127.0.0.1:9", at: at(2) }),
];

describe("service views projection", () => {
  it("a service with its Ready instance is Running", () => {
    const views = fold([created, scheduled("a"), ...ready("a")]);
    assert.equal(views.iris!.instances.a!.phase, "Ready");
    assert.equal(summarizeStatus(views.iris!).status, "Running");
  });

  it("a Draining instance stays Draining when a late Ready arrives", () => {
    const views = fold([
      created,
      scheduled("a"),
      ...ready("a"),
      event("InstanceDraining", { instanceId: "a", service: "iris", at: at(3) }),
      ...ready("a"),
    ]);
    assert.equal(views.iris!.instances.a!.phase, "Draining");
  });

  it("a deleted service stays until its last instance stopped", () => {
    const deleted = fold([created, scheduled("a"), ...ready("a"), event("ServiceDeleted", { name: "iris", deletedAt: at(4) })]);
    assert.equal(deleted.iris!.deleted, true);
    const gone = fold(
      [event("InstanceStopped", { instanceId: "a", service: "iris", nodeId: "n1", reason: "stopped", at: at(5) })],
      deleted,
    );
    assert.equal(gone.iris, undefined);
  });

  it("counts failures of its own instances only, and shows Failed after a crash loop", () => {
    const foreign = fold([created, event("InstanceFailed", { instanceId: "zz", service: "iris", reason: "x", at: at(2) })]);
    assert.equal(foreign.iris!.failuresSinceReady, 0);
    const looping = fold([
      created,
      ...["a", "b", "c"].flatMap((id) => [
        scheduled(id),
        event("InstanceFailed", { instanceId: id, service: "iris", reason: "object not found", at: at(3) }),
      ]),
    ]);
    assert.equal(looping.iris!.failuresSinceReady, 3);
    assert.deepEqual(
      { status: summarizeStatus(looping.iris!).status, reason: summarizeStatus(looping.iris!).reason },
      { status: "Failed", reason: "object not found" },
    );
    const recovered = fold([scheduled("d"), ...ready("d")], looping);
    assert.equal(recovered.iris!.failuresSinceReady, 0);
  });

  it("a command that exits at once: two exits and the agent giving up make the service Failed with the exit as reason", () => {
    const exit = (restartCount: number, s: number) =>
      event("InstanceExited", {
        instanceId: "a",
        service: "iris",
        exitCode: 3,
        signal: "",
        reason: 'process exited with code 3: "boom"',
        restartCount,
        at: at(s),
      });
    const start = (restartCount: number, s: number) =>
      event("InstanceStarting", { instanceId: "a", service: "iris", nodeId: "n1", restartCount, at: at(s) });
    const twoExits = fold([created, scheduled("a"), start(0, 1), exit(0, 2), start(1, 3), exit(1, 4), start(2, 6)]);
    // Still the first deployment, with the exit as reason: Waiting is for an instance that cannot be placed.
    assert.deepEqual(
      { status: summarizeStatus(twoExits.iris!).status, reason: summarizeStatus(twoExits.iris!).reason },
      {
        status: "Creating",
        reason: 'instance a of version 1 is not Ready (Starting, restarted 2 times): process exited with code 3: "boom"',
      },
    );
    const gaveUp = fold(
      [
        event("InstanceFailed", {
          instanceId: "a",
          service: "iris",
          reason: 'process exited with code 3: "boom"; gave up after 2 restarts: it was never Ready',
          at: at(7),
        }),
      ],
      twoExits,
    );
    assert.deepEqual(
      { status: summarizeStatus(gaveUp.iris!).status, reason: summarizeStatus(gaveUp.iris!).reason },
      { status: "Failed", reason: 'process exited with code 3: "boom"; gave up after 2 restarts: it was never Ready' },
    );
    assert.deepEqual(gaveUp.iris!.instances, {}, "the failed instance has left the view");
  });

  it("shows why placement is blocked while no instance can be placed", () => {
    const views = fold([
      created,
      event("ServicePlacementBlocked", { name: "iris", reason: "0/2 nodes: 2 insufficient memory", at: at(1) }),
    ]);
    assert.deepEqual(
      { status: summarizeStatus(views.iris!).status, reason: summarizeStatus(views.iris!).reason },
      { status: "Waiting", reason: "0/2 nodes: 2 insufficient memory" },
    );
  });

  describe("a rollout stuck on a bad new version says which instance and why", () => {
    const twoReplicas = event("ServiceCreated", {
      name: "iris",
      spec: ServiceSpec.fromPartial({ name: "iris", instance: 2 }),
      version: 1,
      token: "",
      createdAt: at(0),
      tokenSha256: "ab12",
    });
    const updatedToV2 = event("ServiceUpdated", {
      name: "iris",
      spec: ServiceSpec.fromPartial({ name: "iris", instance: 2 }),
      version: 2,
      updateType: "merge",
      updatedAt: at(5),
    });
    const scheduledV2 = (id: string) =>
      event("InstanceScheduled", {
        instanceId: id,
        service: "iris",
        version: 2,
        nodeId: "n2",
        resources: undefined,
        pool: "public",
        spot: false,
        at: at(6),
      });
    const starting = (id: string, restartCount: number, s: number) =>
      event("InstanceStarting", { instanceId: id, service: "iris", nodeId: "n2", restartCount, at: at(s) });
    const crashed = (id: string, restartCount: number, s: number) =>
      event("InstanceExited", {
        instanceId: id,
        service: "iris",
        exitCode: 1,
        signal: "",
        reason: "process exited with code 1",
        restartCount,
        at: at(s),
      });
    const servingV1 = [twoReplicas, scheduled("a"), ...ready("a"), scheduled("b"), ...ready("b"), updatedToV2];

    it("given a new instance that crashes and is restarted, when summarized, then Updating names the crash", () => {
      const views = fold([
        ...servingV1,
        scheduledV2("c"),
        starting("c", 0, 7),
        crashed("c", 0, 8),
        starting("c", 1, 9),
        crashed("c", 1, 10),
        starting("c", 2, 12),
      ]);
      const { status, reason } = summarizeStatus(views.iris!);
      assert.equal(status, "Updating");
      assert.equal(reason, "instance c of version 2 is not Ready (Starting, restarted 2 times): process exited with code 1");
    });

    it("given a new instance that starts and never gets Ready, when summarized, then Updating names it and since when", () => {
      const views = fold([...servingV1, scheduledV2("c"), starting("c", 0, 7)]);
      const { status, reason } = summarizeStatus(views.iris!);
      assert.equal(status, "Updating");
      assert.equal(reason, `instance c of version 2 is not Ready yet (Starting since ${at(7)})`);
    });

    it("given the rollout was rolled back and the bad instance drained, when summarized, then the reason is gone", () => {
      const views = fold([
        ...servingV1,
        scheduledV2("c"),
        starting("c", 0, 7),
        crashed("c", 0, 8),
        event("ServiceRolledBack", { name: "iris", fromVersion: 2, toVersion: 1, rolledBackAt: at(9) }),
        event("InstanceDraining", { instanceId: "c", service: "iris", at: at(10) }),
      ]);
      // The drained instance is in the total only: it is neither serving nor on its way up.
      assert.deepEqual(summarizeStatus(views.iris!), { status: "Updating", reason: "", running: 2, pending: 0, total: 3 });
    });

    it("given version 2 failed three times (Failed), when version 3 is deployed, then it is Updating and its creates are not backed off", () => {
      const failedAndReleased = (id: string, s: number) => [
        scheduledV2(id),
        event("InstanceFailed", { instanceId: id, service: "iris", reason: "object models/missing.onnx not found", at: at(s) }),
        event("InstanceStopped", { instanceId: id, service: "iris", nodeId: "", reason: "released after failure", at: at(s) }),
      ];
      const once = fold([...servingV1, ...failedAndReleased("c", 7)]);
      assert.deepEqual(
        { status: summarizeStatus(once.iris!).status, reason: summarizeStatus(once.iris!).reason },
        { status: "Updating", reason: "1 instance failed in a row, the last: object models/missing.onnx not found" },
      );
      const looping = fold([...failedAndReleased("d", 8), ...failedAndReleased("e", 12)], once);
      assert.deepEqual(
        { status: summarizeStatus(looping.iris!).status, reason: summarizeStatus(looping.iris!).reason },
        { status: "Failed", reason: "object models/missing.onnx not found" },
      );
      const fixed = fold(
        [
          event("ServiceUpdated", {
            name: "iris",
            spec: ServiceSpec.fromPartial({ name: "iris", instance: 2 }),
            version: 3,
            updateType: "merge",
            updatedAt: at(13),
          }),
        ],
        looping,
      );
      assert.equal(summarizeStatus(fixed.iris!).status, "Updating");
      assert.equal(fixed.iris!.failuresSinceReady, 0);
      const rolledBack = fold([event("ServiceRolledBack", { name: "iris", fromVersion: 2, toVersion: 1, rolledBackAt: at(13) })], looping);
      assert.equal(rolledBack.iris!.failuresSinceReady, 0);
    });
  });

  describe("what counts toward the current version's crash loop", () => {
    const failed = (id: string) => event("InstanceFailed", { instanceId: id, service: "iris", reason: `${id} failed`, at: at(20) });
    const rolledBackToV1 = event("ServiceRolledBack", { name: "iris", fromVersion: 2, toVersion: 1, rolledBackAt: at(15) });
    const v2 = (id: string) =>
      event("InstanceScheduled", {
        instanceId: id,
        service: "iris",
        version: 2,
        nodeId: "n2",
        resources: undefined,
        pool: "public",
        spot: false,
        at: at(6),
      });
    const updatedToV2 = event("ServiceUpdated", {
      name: "iris",
      spec: ServiceSpec.fromPartial({ name: "iris", instance: 1 }),
      version: 2,
      updateType: "merge",
      updatedAt: at(5),
    });
    const rows: { given: string; events: EasEvent[]; counted: number }[] = [
      {
        given: "an instance of the current version that failed before it was Ready",
        events: [created, scheduled("a"), failed("a")],
        counted: 1,
      },
      { given: "a Ready instance lost with its agent or node", events: [created, scheduled("a"), ...ready("a"), failed("a")], counted: 0 },
      {
        given: "an instance being drained",
        events: [created, scheduled("a"), event("InstanceDraining", { instanceId: "a", service: "iris", at: at(3) }), failed("a")],
        counted: 0,
      },
      {
        given: "an instance of the version rolled back from",
        events: [created, updatedToV2, v2("c"), rolledBackToV1, failed("c")],
        counted: 0,
      },
    ];
    const exited = (id: string, s: number) =>
      event("InstanceExited", {
        instanceId: id,
        service: "iris",
        exitCode: 3,
        signal: "",
        reason: 'process exited with code 3: "boom"',
        restartCount: 0,
        at: at(s),
      });
    const starting = (id: string, restartCount: number, s: number) =>
      event("InstanceStarting", { instanceId: id, service: "iris", nodeId: "n1", restartCount, at: at(s) });
    rows.push(
      {
        given: "each exit of an instance that was not Ready yet (a command that exits at once)",
        events: [created, scheduled("a"), starting("a", 0, 2), exited("a", 3), starting("a", 1, 4), exited("a", 5)],
        counted: 2,
      },
      {
        given: "an exit of a Ready instance (it crashed while serving)",
        events: [created, scheduled("a"), ...ready("a"), exited("a", 3)],
        counted: 0,
      },
    );
    for (const row of rows) {
      it(`given ${row.given}, its failure counts ${row.counted}`, () => {
        assert.equal(fold(row.events).iris!.failuresSinceReady, row.counted);
      });
    }

    it("a Ready instance of an older version does not end the current version's crash loop", () => {
      const looping = fold([created, scheduled("a"), ...ready("a"), updatedToV2, v2("c"), failed("c")]);
      assert.equal(looping.iris!.failuresSinceReady, 1);
      const oldReadyAgain = fold([scheduled("b"), ...ready("b")], looping);
      assert.equal(oldReadyAgain.iris!.failuresSinceReady, 1);
    });
  });
});

describe("service views: lost and moving instances", () => {
  const two = event("ServiceCreated", {
    name: "iris",
    spec: ServiceSpec.fromPartial({ name: "iris", instance: 2 }),
    version: 1,
    token: "",
    createdAt: at(0),
    tokenSha256: "ab12",
  });
  const lost = (id: string, s: number) =>
    event("InstanceLost", { instanceId: id, service: "iris", nodeId: "n1", reason: "node n1 lost", at: at(s) });
  const failed = (id: string, s: number) =>
    event("InstanceFailed", { instanceId: id, service: "iris", reason: "agent on n1 restarted", at: at(s) });

  it("a node lost with both replicas: Starting again, saying why, and a later failure of them is no crash loop", () => {
    const views = fold([two, scheduled("a"), ...ready("a"), scheduled("b"), ...ready("b"), lost("a", 3), lost("b", 3)]);
    const summary = summarizeStatus(views.iris!);
    assert.equal(summary.status, "Starting");
    assert.match(summary.reason, /is not Ready \(Lost\): node n1 lost/);
    const after = fold([failed("a", 4), failed("b", 4)], views);
    assert.equal(after.iris!.failuresSinceReady, 0, "a node lost says nothing about the version");
  });

  it("while a lost replica's replacement serves, the service is Running and says what it replaces", () => {
    const views = fold([two, scheduled("a"), ...ready("a"), scheduled("b"), ...ready("b"), lost("a", 3), scheduled("c"), ...ready("c")]);
    const summary = summarizeStatus(views.iris!);
    assert.deepEqual([summary.status, summary.reason], ["Running", "replacing a (lost): node n1 lost"]);
  });

  it("warns when every replica runs on one node, and says whether a rebalance will move them", () => {
    const views = fold([two, scheduled("a"), ...ready("a"), scheduled("b"), ...ready("b")]);
    assert.deepEqual(serviceWarnings(views.iris!, false), [
      "all 2 replicas run on node n1: losing it stops the service; they are moved apart once another node fits one (or add a node)",
    ]);
    assert.match(serviceWarnings(views.iris!, true)[0]!, /metadata\.rebalance is false, so they stay there/);
    const one = fold([created, scheduled("x"), ...ready("x")]);
    assert.deepEqual(serviceWarnings(one.iris!, false), [], "one replica: nothing to spread");
  });
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { InstancePhase } from "@eas/instance-lifecycle";
import type { InstanceView, ServiceView } from "../projections/service-views.js";
import { planReconcile, rebalanceCandidates, type ReconcileAction } from "./plan.js";

const NOW = Date.parse("2026-11-28T12:00:00.000Z");
const ago = (ms: number) => new Date(NOW - ms).toISOString();

function instance(id: string, version: number, phase: InstanceView["phase"], sinceMs = 60_000, pool = "public"): InstanceView {
  return {
    instanceId: id,
    phase,
    service: "iris",
    version,
    nodeId: "n1",
    pool,
    spot: false,
    scheduledAt: ago(sinceMs),
    endpoint: "",
    restartCount: 0,
    reason: "",
    since: ago(sinceMs),
    everReady: phase === "Ready",
    lostWhileReady: false,
    moveCause: "",
    moveReason: "",
    moveDeadline: "",
  };
}

function service(overrides: Partial<ServiceView>, instances: InstanceView[]): ServiceView {
  return {
    name: "iris",
    tokenSha256: "ab12",
    versions: [],
    currentVersion: 1,
    latestVersion: 1,
    desiredReplicas: 2,
    stopped: false,
    createdAt: ago(100_000),
    updatedAt: ago(100_000),
    placementBlocked: "",
    failure: "",
    deleted: false,
    failuresSinceReady: 0,
    lastFailureReason: "",
    lastFailureAt: "",
    converging: "",
    instances: Object.fromEntries(instances.map((i) => [i.instanceId, i])),
    ...overrides,
  };
}

/** A Ready instance whose node went silent (routed while it answers). */
const lost = (id: string, fromReady = true): InstanceView => ({
  ...instance(id, 1, "Lost"),
  lostWhileReady: fromReady,
  reason: "node n1 lost",
  everReady: fromReady,
});
const moving = (id: string, cause: string, phase: InstanceView["phase"] = "Ready", deadlineInMs = 30_000): InstanceView => ({
  ...instance(id, 1, phase),
  moveCause: cause,
  moveReason: "why",
  moveDeadline: cause === "reclaim" ? new Date(NOW + deadlineInMs).toISOString() : "",
});

const plan = (view: ServiceView, pendingCreates = 0): ReconcileAction[] =>
  planReconcile(view, { now: NOW, drainMs: 500, startRetryMs: 5_000, pendingCreates });
const kinds = (actions: ReconcileAction[]) => actions.map((a) => ("instanceId" in a ? `${a.kind}:${a.instanceId}` : a.kind));

describe("planReconcile", () => {
  const cases: { name: string; view: ServiceView; pending?: number; expected: string[] }[] = [
    { name: "creates the missing replicas", view: service({}, []), expected: ["create", "create"] },
    { name: "counts creates in flight", view: service({}, [instance("a", 1, "Starting")]), pending: 1, expected: [] },
    { name: "steady state does nothing", view: service({}, [instance("a", 1, "Ready"), instance("b", 1, "Ready")]), expected: [] },
    {
      name: "scale in drains the not-ready one first",
      view: service({ desiredReplicas: 1 }, [instance("a", 1, "Ready"), instance("b", 1, "Starting")]),
      expected: ["drain:b"],
    },
    {
      name: "scale in gives up the public-pool overflow before dedicated instances",
      view: service({ desiredReplicas: 2 }, [
        instance("d1", 1, "Ready", 90_000, "dedicated"),
        instance("p1", 1, "Ready", 80_000, "public"),
        instance("d2", 1, "Ready", 10_000, "dedicated"),
      ]),
      expected: ["drain:p1"],
    },
    {
      name: "a stopped service drains everything",
      view: service({ stopped: true }, [instance("a", 1, "Ready"), instance("b", 1, "Starting")]),
      expected: ["drain:a", "drain:b"],
    },
    {
      name: "a draining instance is stopped after the drain period",
      view: service({ stopped: true }, [instance("a", 1, "Draining", 1_000), instance("b", 1, "Draining", 100)]),
      expected: ["stop:a"],
    },
    {
      name: "an instance that exited and waits for its restart is not replaced",
      view: service({}, [instance("a", 1, "Ready"), instance("b", 1, "Exited")]),
      expected: [],
    },
    {
      name: "a scheduled instance stuck without Starting is started again",
      view: service({}, [instance("a", 1, "Ready"), instance("b", 1, "Scheduled", 10_000)]),
      expected: ["start:b"],
    },
    {
      name: "rolling update surges one new instance first",
      view: service({ currentVersion: 2 }, [instance("a", 1, "Ready"), instance("b", 1, "Ready")]),
      expected: ["create"],
    },
    {
      name: "rolling update waits while the new instance starts",
      view: service({ currentVersion: 2 }, [instance("a", 1, "Ready"), instance("b", 1, "Ready"), instance("c", 2, "Starting")]),
      expected: [],
    },
    {
      name: "rolling update drains one old instance once the new one is Ready",
      view: service({ currentVersion: 2 }, [instance("a", 1, "Ready", 90_000), instance("b", 1, "Ready"), instance("c", 2, "Ready")]),
      expected: ["drain:b"],
    },
    {
      name: "rolling update then surges the next new instance",
      view: service({ currentVersion: 2 }, [instance("a", 1, "Ready"), instance("b", 1, "Draining", 100), instance("c", 2, "Ready")]),
      expected: ["create"],
    },
    {
      name: "rolling update finishes by draining the last old instance",
      view: service({ currentVersion: 2 }, [instance("a", 1, "Ready"), instance("c", 2, "Ready"), instance("d", 2, "Ready")]),
      expected: ["drain:a"],
    },
    {
      name: "old instances that are not Ready go at once",
      view: service({ currentVersion: 2 }, [instance("a", 1, "Starting"), instance("b", 1, "Ready")]),
      expected: ["drain:a", "create"],
    },
    // A node lost: replacements for all its instances at once, the Lost ones kept (routed) until they are Ready.
    {
      name: "lost instances are all replaced at once and kept meanwhile",
      view: service({}, [lost("a"), lost("b")]),
      expected: ["create", "create"],
    },
    {
      name: "lost instances wait while their replacements start",
      view: service({}, [lost("a"), lost("b"), instance("c", 1, "Starting"), instance("d", 1, "Ready")]),
      expected: [],
    },
    {
      name: "lost instances are drained once the replacements are Ready",
      view: service({}, [lost("a"), lost("b"), instance("c", 1, "Ready"), instance("d", 1, "Ready")]),
      expected: ["drain:a", "drain:b"],
    },
    {
      name: "a lost instance that was never Ready serves nothing: drained at once",
      view: service({}, [lost("a", false), instance("b", 1, "Ready")]),
      expected: ["drain:a", "create"],
    },
    {
      name: "a lost instance whose agent reported it Ready again is a keeper: the surplus replacement is scaled in",
      view: service({}, [instance("a", 1, "Ready", 90_000), instance("b", 1, "Ready", 80_000), instance("c", 1, "Ready", 1_000)]),
      expected: ["drain:c"],
    },
    // A spot node reclaimed: replacements at once; drained when they are Ready, or shortly before the deadline.
    {
      name: "instances of a reclaimed node are replaced at once",
      view: service({}, [moving("a", "reclaim"), moving("b", "reclaim")]),
      expected: ["create", "create"],
    },
    {
      name: "a reclaimed instance is drained once the replacements are Ready",
      view: service({}, [moving("a", "reclaim"), instance("c", 1, "Ready"), instance("d", 1, "Ready")]),
      expected: ["drain:a"],
    },
    {
      name: "a reclaimed instance is drained before its deadline even without a Ready replacement",
      view: service({}, [moving("a", "reclaim", "Ready", 4_000), instance("c", 1, "Starting"), instance("d", 1, "Ready")]),
      expected: ["drain:a"],
    },
    {
      name: "a reclaimed instance with time left waits for its replacement",
      view: service({}, [moving("a", "reclaim", "Ready", 20_000), instance("c", 1, "Starting"), instance("d", 1, "Ready")]),
      expected: [],
    },
    // A rebalance move: make-before-break, one at a time.
    {
      name: "a rebalance move surges one replacement",
      view: service({}, [moving("a", "rebalance"), instance("b", 1, "Ready")]),
      expected: ["create"],
    },
    {
      name: "a rebalance move drains the moving instance once its replacement is Ready",
      view: service({}, [moving("a", "rebalance"), instance("b", 1, "Ready"), instance("c", 1, "Ready")]),
      expected: ["drain:a"],
    },
    {
      name: "an orphan of a restarted agent is replaced at once and drained once covered",
      view: service({}, [moving("a", "orphaned"), moving("b", "orphaned"), instance("c", 1, "Ready"), instance("d", 1, "Ready")]),
      expected: ["drain:a", "drain:b"],
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(kinds(plan(c.view, c.pending)), c.expected));
  }

  it("never lets the routable instances drop below desired while a node's instances are lost (simulation)", () => {
    let instances = [lost("o1"), lost("o2"), instance("k", 1, "Ready")];
    let next = 0;
    for (let step = 0; step < 20; step++) {
      const routable = instances.filter((i) => i.phase === "Ready" || (i.phase === "Lost" && i.lostWhileReady)).length;
      assert.ok(routable >= 3, `step ${step}: only ${routable} routable`);
      const actions = plan(service({ desiredReplicas: 3 }, instances));
      if (actions.length === 0 && instances.every((i) => i.phase === "Ready")) return;
      instances = instances
        .filter((i) => i.phase !== "Draining")
        .map((i) => (i.phase === "Starting" ? { ...i, phase: InstancePhase.Ready } : i));
      for (const action of actions) {
        if (action.kind === "create") instances.push(instance(`n${next++}`, 1, "Starting"));
        if (action.kind === "drain")
          instances = instances.map((i) => (i.instanceId === action.instanceId ? { ...i, phase: InstancePhase.Draining } : i));
      }
    }
    assert.fail("did not converge in 20 steps");
  });

  it("backs off creating replacements for a crash-looping service", () => {
    const looping = service({ failuresSinceReady: 4, lastFailureAt: ago(1_000), lastFailureReason: "object not found" }, []);
    assert.deepEqual(kinds(plan(looping)), []);
    const later = service({ failuresSinceReady: 4, lastFailureAt: ago(9_000), lastFailureReason: "object not found" }, []);
    assert.deepEqual(kinds(plan(later)), ["create", "create"]);
  });

  it("never lowers Ready instances below desired during a rolling update (simulation)", () => {
    let instances = [instance("o1", 1, "Ready"), instance("o2", 1, "Ready"), instance("o3", 1, "Ready")];
    let next = 0;
    for (let step = 0; step < 30; step++) {
      const view = service({ currentVersion: 2, desiredReplicas: 3 }, instances);
      const ready = instances.filter((i) => i.phase === InstancePhase.Ready).length;
      assert.ok(ready >= 3, `step ${step}: only ${ready} Ready`);
      const actions = plan(view);
      if (actions.length === 0 && instances.every((i) => i.version === 2 && i.phase === InstancePhase.Ready)) return;
      // Each step: new instances become Ready, draining ones stop, then the actions apply.
      instances = instances
        .filter((i) => i.phase !== InstancePhase.Draining)
        .map((i) => (i.phase === InstancePhase.Starting ? { ...i, phase: InstancePhase.Ready } : i));
      for (const action of actions) {
        if (action.kind === "create") instances.push(instance(`n${next++}`, 2, "Starting"));
        if (action.kind === "drain") {
          instances = instances.map((i) =>
            i.instanceId === action.instanceId ? { ...i, phase: InstancePhase.Draining, since: ago(0) } : i,
          );
        }
      }
    }
    assert.fail("rolling update did not converge in 30 steps");
  });
});

describe("rebalanceCandidates", () => {
  const ready = [instance("a", 1, "Ready"), instance("b", 1, "Ready")];
  it("offers the Ready instances of a settled service whose replicas share a node", () => {
    assert.deepEqual(rebalanceCandidates(service({}, ready), false), ["a", "b"]);
  });
  it("offers nothing when every replica has a node of its own", () => {
    assert.equal(
      rebalanceCandidates(service({}, [instance("a", 1, "Ready"), { ...instance("b", 1, "Ready"), nodeId: "n2" }]), false),
      undefined,
    );
  });
  it("offers nothing when the service opted out, is stopped, updating, scaling, moving or has one replica", () => {
    assert.equal(rebalanceCandidates(service({}, ready), true), undefined, "metadata.rebalance: false");
    assert.equal(rebalanceCandidates(service({ stopped: true }, ready), false), undefined);
    assert.equal(rebalanceCandidates(service({ currentVersion: 2 }, ready), false), undefined);
    assert.equal(rebalanceCandidates(service({ desiredReplicas: 3 }, ready), false), undefined);
    assert.equal(rebalanceCandidates(service({}, [moving("a", "rebalance"), instance("b", 1, "Ready")]), false), undefined);
    assert.equal(rebalanceCandidates(service({}, [instance("a", 1, "Starting"), instance("b", 1, "Ready")]), false), undefined);
    assert.equal(rebalanceCandidates(service({ desiredReplicas: 1 }, [instance("a", 1, "Ready")]), false), undefined);
  });
});

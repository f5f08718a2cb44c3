import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { InstancePhase } from "@eas/instance-lifecycle";
import type { InstanceView, ServiceView } from "../projections/service-views.js";
import { planReconcile, type ReconcileAction } from "./plan.js";

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
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(kinds(plan(c.view, c.pending)), c.expected));
  }

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

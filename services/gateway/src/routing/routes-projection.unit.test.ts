import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RecordedEvent } from "@eas/event-store";
import { encodeEventData, event, instanceStream, serviceStream, tokenSha256, type EasEvent } from "@eas/events";
import { ServiceSpec } from "@eas/proto";
import { unavailableReason, type RouteEntry } from "../proxy/index.js";
import { routesProjection, toRouteEntry, type RoutesState } from "./routes-projection.js";

const at = (second: number) => new Date(Date.UTC(2026, 10, 28, 12, 0, second)).toISOString();

/** Stores events the way the log would: proto3-JSON data in the aggregate's stream, consecutive positions. */
function recorded(events: readonly EasEvent[], firstPosition = 1): RecordedEvent[] {
  return events.map((e, index) => {
    const data = e.data as { instanceId?: string; name?: string };
    return {
      id: `e${firstPosition + index}`,
      type: e.type,
      stream: data.instanceId ? instanceStream(data.instanceId) : serviceStream(data.name ?? ""),
      revision: 0,
      position: firstPosition + index,
      time: new Date(at(0)),
      data: encodeEventData(e),
      metadata: {},
    };
  });
}

function given(events: readonly EasEvent[]): RoutesState {
  return recorded(events).reduce(routesProjection.evolve, routesProjection.initialState());
}

function when(state: RoutesState, ...events: EasEvent[]): RoutesState {
  return recorded(events, 1_000).reduce(routesProjection.evolve, state);
}

function entry(state: RoutesState, service = "iris"): RouteEntry | undefined {
  const routed = state[service];
  return routed && toRouteEntry(service, routed);
}

const rpc = { keepaliveMs: 2_000, maxConcurrency: 4, maxQueueSize: 10, rateLimit: 50 };
const created = (name = "iris", token = "tok-iris", instance = 2) =>
  event("ServiceCreated", {
    name,
    spec: ServiceSpec.fromPartial({ name, instance, rpc }),
    version: 1,
    token: "",
    createdAt: at(0),
    tokenSha256: tokenSha256(token),
  });
const updated = (limits: typeof rpc, name = "iris") =>
  event("ServiceUpdated", {
    name,
    spec: ServiceSpec.fromPartial({ name, instance: 2, rpc: limits }),
    version: 2,
    updateType: "merge",
    updatedAt: at(5),
  });
const readyEvent = (instanceId: string, port = 9000, service = "iris") =>
  event("InstanceReady", { instanceId, service, version: 1, nodeId: "n1", endpoint: `127.0.0.1:${port}`, at: at(2) });
/** Started (or restarted) and Ready: what an agent reports for an instance that comes up. */
const ready = (instanceId: string, port = 9000, service = "iris"): EasEvent[] => [
  event("InstanceStarting", { instanceId, service, nodeId: "n1", restartCount: 0, at: at(2) }),
  readyEvent(instanceId, port, service),
];
const draining = (instanceId: string, service = "iris") => event("InstanceDraining", { instanceId, service, at: at(3) });
const stopped = (instanceId: string, service = "iris") =>
  event("InstanceStopped", { instanceId, service, nodeId: "n1", reason: "stopped", at: at(4) });
const failed = (instanceId: string, service = "iris") => event("InstanceFailed", { instanceId, service, reason: "node lost", at: at(4) });
const unhealthy = (instanceId: string, service = "iris") =>
  event("InstanceUnhealthy", { instanceId, service, reason: "probe failed", at: at(4) });
const exited = (instanceId: string, service = "iris") =>
  event("InstanceExited", { instanceId, service, exitCode: 1, signal: "", reason: "crashed", restartCount: 1, at: at(4) });
const serviceStopped = (name = "iris") => event("ServiceStopped", { name, stoppedAt: at(6) });
const serviceStarted = (name = "iris") => event("ServiceStarted", { name, startedAt: at(7) });
const serviceDeleted = (name = "iris") => event("ServiceDeleted", { name, deletedAt: at(8) });

const instanceIds = (state: RoutesState, service = "iris") =>
  entry(state, service)
    ?.instances.map((i) => i.id)
    .sort();

describe("routes projection: a service's lifecycle", () => {
  it("given nothing, when the service is created, then it is routable by its token but starting, with the spec's rpc limits", () => {
    const state = given([created()]);
    assert.deepEqual(entry(state), {
      service: "iris",
      tokenSha256: tokenSha256("tok-iris"),
      ...rpc,
      instances: [],
      state: "starting",
      stateReason: "",
      scaleFromZero: false,
    });
  });

  it("given a ServiceCreated written before ADR 0027, with the token in clear, then the route checks the digest of that token", () => {
    const legacy = event("ServiceCreated", {
      name: "old",
      spec: ServiceSpec.fromPartial({ name: "old", instance: 1 }),
      version: 1,
      token: "legacy-token",
      createdAt: at(0),
      tokenSha256: "",
    });
    assert.equal(entry(given([legacy]), "old")?.tokenSha256, tokenSha256("legacy-token"));
  });

  it("given a spec without rpc settings, when the service is created, then the gateway's defaults apply", () => {
    const state = given([
      event("ServiceCreated", {
        name: "bare",
        spec: ServiceSpec.fromPartial({ name: "bare" }),
        version: 1,
        token: "",
        createdAt: at(0),
        tokenSha256: tokenSha256("t"),
      }),
    ]);
    const { keepaliveMs, maxConcurrency, maxQueueSize, rateLimit } = entry(state, "bare")!;
    assert.deepEqual(
      { keepaliveMs, maxConcurrency, maxQueueSize, rateLimit },
      { keepaliveMs: 5_000, maxConcurrency: 32, maxQueueSize: 64, rateLimit: 0 },
    );
  });

  it("given an async spec, when the service is created and updated, then its route carries the queue's limits", () => {
    const queue = { maxLength: 100, maxPayloadBytes: 64 * 1024, maxAttempts: 3, requestTimeoutMs: 1_000, resultRetentionSeconds: 60 };
    const spec = ServiceSpec.fromPartial({ name: "gen", rpc, async: queue });
    const state = given([event("ServiceCreated", { name: "gen", spec, version: 1, token: "", createdAt: at(0), tokenSha256: "ab" })]);
    assert.deepEqual(entry(state, "gen")?.async, { maxPayloadBytes: 64 * 1024, maxLength: 100, resultRetentionSeconds: 60 });
    const grown = { ...spec, async: { ...queue, maxLength: 500 } };
    const after = when(state, event("ServiceUpdated", { name: "gen", spec: grown, version: 2, updateType: "merge", updatedAt: at(5) }));
    assert.equal(entry(after, "gen")?.async?.maxLength, 500);
    assert.equal(entry(given([created()]))?.async, undefined);
  });

  it("given a created service, when an instance is Ready, then the service runs and routes to its endpoint and version", () => {
    const state = when(given([created()]), ...ready("a", 9001));
    assert.equal(entry(state)?.state, "running");
    assert.deepEqual(entry(state)?.instances, [{ id: "a", endpoint: "127.0.0.1:9001", version: 1 }]);
  });

  it("given a Ready instance, when it exits and is Ready again on another endpoint (restart), then the route follows the new endpoint", () => {
    const state = when(given([created(), ...ready("a", 9001)]), exited("a"), ...ready("a", 9002));
    assert.deepEqual(entry(state)?.instances, [{ id: "a", endpoint: "127.0.0.1:9002", version: 1 }]);
  });

  it("given a stopped service with a Ready instance, then it is stopped; when it is started again, then it runs", () => {
    const stoppedState = given([created(), ...ready("a"), serviceStopped()]);
    assert.equal(entry(stoppedState)?.state, "stopped");
    const started = when(stoppedState, serviceStarted());
    assert.equal(entry(started)?.state, "running");
    assert.deepEqual(instanceIds(started), ["a"]);
  });

  it("given a stopped service with no Ready instance, when it is started, then it is starting", () => {
    assert.equal(entry(when(given([created(), serviceStopped()]), serviceStarted()))?.state, "starting");
  });

  it("given a running service, when it is updated, then its rpc limits change and its token and Ready instances stay", () => {
    const limits = { keepaliveMs: 9_000, maxConcurrency: 1, maxQueueSize: 3, rateLimit: 7 };
    const state = when(given([created(), ...ready("a"), ...ready("b", 9001)]), updated(limits));
    assert.deepEqual(entry(state), {
      service: "iris",
      tokenSha256: tokenSha256("tok-iris"),
      ...limits,
      instances: [
        { id: "a", endpoint: "127.0.0.1:9000", version: 1 },
        { id: "b", endpoint: "127.0.0.1:9001", version: 1 },
      ],
      state: "running",
      stateReason: "",
      scaleFromZero: false,
    });
  });

  it("given a service, when an autoscaling policy with min 0 is set, then requests at zero are held; min 1 or no policy: not", () => {
    const policy = (minReplicas: number) =>
      event("AutoscalerPolicySet", { service: "iris", policy: { minReplicas, maxReplicas: 3, targetQps: 10 }, setAt: at(2) });
    const deleted = event("AutoscalerPolicyDeleted", { service: "iris", deletedAt: at(3) });
    assert.equal(entry(when(given([created()]), policy(0)))?.scaleFromZero, true);
    assert.equal(entry(when(given([created()]), policy(1)))?.scaleFromZero, false);
    assert.equal(entry(when(given([created(), policy(0)]), deleted))?.scaleFromZero, false);
  });

  it("given a running service, when it is deleted, then it has no route and other services keep theirs", () => {
    const state = when(given([created(), ...ready("a"), created("other", "tok-other"), ...ready("o", 9100, "other")]), serviceDeleted());
    assert.equal(state.iris, undefined);
    assert.deepEqual(instanceIds(state, "other"), ["o"]);
  });

  it("given a deleted service, when it is created again, then it starts from scratch with the new token", () => {
    const state = when(given([created(), ...ready("a"), serviceDeleted()]), created("iris", "tok-new"));
    assert.deepEqual(
      { tokenSha256: entry(state)?.tokenSha256, instances: entry(state)?.instances },
      { tokenSha256: tokenSha256("tok-new"), instances: [] },
    );
  });
});

describe("routes projection: why a service has no Ready instance (the 503's reason)", () => {
  const scaled = (from: number, to: number) =>
    event("ServiceScaled", { name: "iris", fromReplicas: from, toReplicas: to, cause: "user", scaledAt: at(5) });
  const blocked = (reason: string) => event("ServicePlacementBlocked", { name: "iris", reason, at: at(1) });
  const scheduled = (instanceId: string) =>
    event("InstanceScheduled", {
      instanceId,
      service: "iris",
      version: 1,
      nodeId: "n1",
      resources: undefined,
      pool: "public",
      spot: false,
      at: at(2),
    });
  const stateOf = (state: RoutesState) => {
    const e = entry(state)!;
    return { state: e.state, stateReason: e.stateReason, reason: unavailableReason(e) };
  };

  it("given a service scaled to 0 whose last instance stopped, then it is scaled to zero", () => {
    const state = given([created(), ...ready("a"), scaled(2, 0), draining("a"), stopped("a")]);
    assert.deepEqual(stateOf(state), { state: "scaled-to-zero", stateReason: "", reason: "scaled to zero" });
  });

  it("given a service created with 0 instances, then it is scaled to zero; scaled to 1, then starting", () => {
    const zero = given([created("iris", "tok-iris", 0)]);
    assert.equal(stateOf(zero).reason, "scaled to zero");
    assert.equal(stateOf(when(zero, scaled(0, 1))).reason, "starting");
  });

  it("given an instance that cannot be placed, then it waits with the scheduler's reason, until an instance is placed", () => {
    const state = given([created(), blocked("0/2 nodes: 2 insufficient cpu")]);
    assert.deepEqual(stateOf(state), {
      state: "waiting",
      stateReason: "0/2 nodes: 2 insufficient cpu",
      reason: "cannot be placed: 0/2 nodes: 2 insufficient cpu",
    });
    assert.equal(stateOf(when(state, scheduled("a"))).reason, "starting");
  });

  it("given a stopped service, then it is stopped, whatever else holds", () => {
    const state = given([created(), blocked("0/2 nodes: 2 insufficient cpu"), serviceStopped()]);
    assert.equal(stateOf(state).reason, "stopped");
  });

  it("an update keeps the scaled count (the deployer writes it into the new version's spec)", () => {
    const state = given([created(), scaled(2, 0), updated(rpc)]);
    assert.equal(stateOf(state).reason, "starting", "the update's spec says 2");
  });
});

describe("routes projection: instances leaving the route", () => {
  it("given two Ready instances, when one drains, then only the other is routed", () => {
    const state = when(given([created(), ...ready("a"), ...ready("b", 9001)]), draining("a"));
    assert.deepEqual(instanceIds(state), ["b"]);
    assert.equal(entry(state)?.state, "running");
  });

  it("given a drained instance, when a late Ready for it arrives, then it is not routed again", () => {
    const state = when(given([created(), ...ready("a"), draining("a")]), ...ready("a"));
    assert.deepEqual(instanceIds(state), []);
    assert.equal(entry(state)?.state, "starting");
  });

  it("given an instance drained before it was ever Ready, when its Ready arrives, then it is not routed", () => {
    const state = when(given([created(), ready("a")[0]!, draining("a")]), ...ready("a"));
    assert.deepEqual(instanceIds(state), []);
  });

  for (const [name, end] of [
    ["Stopped", stopped],
    ["Failed", failed],
  ] as const) {
    it(`given a drained instance, when it is ${name}, then it is gone and a late Ready for it is not routed (nothing follows an end)`, () => {
      const ended = when(given([created(), ...ready("a"), draining("a")]), end("a"));
      assert.deepEqual(instanceIds(ended), []);
      assert.deepEqual(instanceIds(when(ended, readyEvent("a"))), []);
    });
  }

  for (const [name, leave] of [
    ["Stopped", stopped],
    ["Failed", failed],
    ["Unhealthy", unhealthy],
    ["Exited", exited],
  ] as const) {
    it(`given two Ready instances, when one is ${name}, then it is no longer routed and the other is`, () => {
      const state = when(given([created(), ...ready("a"), ...ready("b", 9001)]), leave("a"));
      assert.deepEqual(instanceIds(state), ["b"]);
    });
  }

  for (const [name, leave] of [
    ["Unhealthy", unhealthy],
    ["Exited", exited],
  ] as const) {
    it(`given an instance that was ${name}, when it is Ready again (the agent restarted it), then it is routed again`, () => {
      const restarted = name === "Exited" ? ready("a", 9005) : [readyEvent("a", 9005)];
      const state = when(given([created(), ...ready("a"), leave("a")]), ...restarted);
      assert.deepEqual(entry(state)?.instances, [{ id: "a", endpoint: "127.0.0.1:9005", version: 1 }]);
    });
  }

  it("given the only Ready instance, when its node is lost, then it is still routed (it may answer) until it is drained", () => {
    const lostEvent = event("InstanceLost", { instanceId: "a", service: "iris", nodeId: "n1", reason: "node n1 lost", at: at(4) });
    const state = when(given([created(), ...ready("a")]), lostEvent);
    assert.deepEqual(entry(state)?.instances, [{ id: "a", endpoint: "127.0.0.1:9000", version: 1 }]);
    assert.equal(entry(state)?.state, "running");
    assert.deepEqual(instanceIds(when(state, draining("a"))), [], "drained once its replacement is Ready");
    assert.deepEqual(instanceIds(when(state, exited("a"))), [], "an exit reported by its agent ends the route");
  });

  it("given an instance lost before it was Ready, then it is not routed (it never served)", () => {
    const lostEvent = event("InstanceLost", { instanceId: "a", service: "iris", nodeId: "n1", reason: "node n1 lost", at: at(4) });
    assert.deepEqual(instanceIds(when(given([created(), ready("a")[0]!]), lostEvent)), []);
  });

  it("given a Ready instance, when a move is requested, then it keeps being routed (make-before-break)", () => {
    const move = event("InstanceMoveRequested", {
      instanceId: "a",
      service: "iris",
      nodeId: "n1",
      cause: "rebalance",
      reason: "spread",
      deadline: "",
      at: at(4),
    });
    assert.deepEqual(instanceIds(when(given([created(), ...ready("a")]), move)), ["a"]);
  });

  it("given the last Ready instance, when it stops, then the service is starting again (no instance to route to)", () => {
    assert.equal(entry(when(given([created(), ...ready("a")]), stopped("a")))?.state, "starting");
  });
});

describe("routes projection: events it does not route on", () => {
  const limits = { keepaliveMs: 1, maxConcurrency: 1, maxQueueSize: 1, rateLimit: 1 };
  const forUnknownService: [string, EasEvent][] = [
    ["InstanceReady", readyEvent("x", 9999, "ghost")],
    ["InstanceDraining", draining("x", "ghost")],
    ["InstanceStopped", stopped("x", "ghost")],
    ["InstanceFailed", failed("x", "ghost")],
    ["InstanceUnhealthy", unhealthy("x", "ghost")],
    ["InstanceExited", exited("x", "ghost")],
    ["ServiceUpdated", updated(limits, "ghost")],
    ["ServiceStopped", serviceStopped("ghost")],
    ["ServiceStarted", serviceStarted("ghost")],
    ["ServiceDeleted", serviceDeleted("ghost")],
  ];
  for (const [name, e] of forUnknownService) {
    it(`given one known service, when ${name} arrives for an unknown service, then the routes are unchanged`, () => {
      const before = given([created(), ...ready("a")]);
      const after = when(before, e);
      assert.deepEqual(after, before);
      assert.equal(after.ghost, undefined);
    });
  }

  it("given a known service, when an instance is scheduled and starts, or an unknown event arrives, then its route is the same", () => {
    const before = given([created(), ...ready("a")]);
    const scheduled = event("InstanceScheduled", {
      instanceId: "b",
      service: "iris",
      version: 1,
      nodeId: "n1",
      resources: undefined,
      pool: "public",
      spot: false,
      at: at(1),
    });
    const starting = event("InstanceStarting", { instanceId: "b", service: "iris", nodeId: "n1", restartCount: 0, at: at(1) });
    const future: RecordedEvent = { ...recorded([readyEvent("b")])[0]!, type: "eas.v9.SomethingNew" };
    assert.deepEqual(entry(when(before, scheduled, starting)), entry(before));
    assert.equal(routesProjection.evolve(before, future), before);
  });
});

describe("routes projection: purity", () => {
  function deepFreeze<T>(value: T): T {
    if (value && typeof value === "object" && !Object.isFrozen(value)) {
      for (const child of Object.values(value)) deepFreeze(child);
      Object.freeze(value);
    }
    return value;
  }

  const history: EasEvent[] = [
    created(),
    created("other", "tok-other"),
    ...ready("a"),
    ...ready("b", 9001),
    ...ready("o", 9100, "other"),
    updated({ keepaliveMs: 9_000, maxConcurrency: 1, maxQueueSize: 3, rateLimit: 7 }),
    draining("a"),
    ...ready("a"),
    stopped("a"),
    unhealthy("b"),
    ...ready("b", 9002),
    exited("b"),
    failed("o", "other"),
    serviceStopped(),
    serviceStarted(),
    serviceDeleted("other"),
    serviceDeleted(),
  ];

  it("evolve never mutates the state it is given, for every step of a service's whole life", () => {
    let state = routesProjection.initialState();
    for (const e of recorded(history)) {
      const before = structuredClone(state);
      // Frozen: a write into the input throws (ESM is strict mode) instead of passing silently.
      const next = routesProjection.evolve(deepFreeze(state), e);
      assert.deepEqual(state, before, `${e.type} changed its input`);
      state = next;
    }
    assert.deepEqual(state, {});
  });
});

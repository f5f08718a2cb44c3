import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, it } from "node:test";
import type { RecordedEvent } from "@eas/event-store";
import { encodeEventData, event, type EasEvent } from "@eas/events";
import type { Projection } from "@eas/projections";
import { ServiceSpec } from "@eas/proto";
import { alertsProjection } from "./alerts.js";
import { fleetProjection, readyInstances } from "./fleet.js";

function fold<State>(projection: Projection<State>, events: EasEvent[]): State {
  return events.reduce<State>(
    (state, e, index) =>
      projection.evolve(state, {
        id: randomUUID(),
        type: e.type,
        stream: "x-1",
        revision: index,
        position: index + 1,
        time: new Date(),
        data: encodeEventData(e),
        metadata: {},
      } as RecordedEvent),
    projection.initialState(),
  );
}

const created = event("ServiceCreated", {
  name: "svc",
  spec: ServiceSpec.fromPartial({ name: "svc" }),
  version: 1,
  token: "",
  tokenSha256: "",
  createdAt: "t0",
});
const ready = (instanceId: string, version = 1) => [
  event("InstanceScheduled", {
    instanceId,
    service: "svc",
    version,
    nodeId: "n",
    resources: undefined,
    pool: "public",
    spot: false,
    at: "t",
  }),
  event("InstanceStarting", { instanceId, service: "svc", nodeId: "n", restartCount: 0, at: "t" }),
  event("InstanceReady", { instanceId, service: "svc", version, nodeId: "n", endpoint: "e", at: "t" }),
];

describe("fleet projection", () => {
  it("counts Ready instances until they drain, exit or stop", () => {
    const state = fold(fleetProjection, [
      created,
      ...ready("a"),
      ...ready("b", 2),
      ...ready("c"),
      event("InstanceDraining", { instanceId: "a", service: "svc", at: "t" }),
      event("InstanceStopped", { instanceId: "c", service: "svc", nodeId: "n", reason: "", at: "t" }),
    ]);
    assert.equal(readyInstances(state, "svc"), 1);
    assert.equal(state["svc"]!.instances["b"]!.version, 2);
    assert.equal(readyInstances(state, "other"), 0);
  });

  it("forgets a deleted service", () => {
    assert.deepEqual(fold(fleetProjection, [created, event("ServiceDeleted", { name: "svc", deletedAt: "t" })]), {});
  });
});

describe("alerts projection", () => {
  const rule = {
    id: "r1",
    service: "svc",
    metric: "qps",
    comparison: "<",
    threshold: 1,
    windowSeconds: 600,
    webhookUrl: "http://hook.test/",
    description: "",
    createdAt: "t0",
  };
  const fired = event("AlertFired", {
    ruleId: "r1",
    service: "svc",
    episode: 1,
    metric: "qps",
    comparison: "<",
    threshold: 1,
    windowSeconds: 600,
    value: 0,
    firedAt: "t1",
  });

  it("owes the webhook each transition until its outcome is in the log", () => {
    const state = fold(alertsProjection, [
      event("AlertRuleCreated", { rule }),
      fired,
      event("AlertWebhookDelivered", { ruleId: "r1", episode: 1, transition: "firing", attempts: 1, statusCode: 200, at: "t2" }),
      event("AlertResolved", { ruleId: "r1", service: "svc", episode: 1, value: 3, resolvedAt: "t3" }),
    ]);
    assert.equal(state["r1"]!.firing, undefined);
    assert.deepEqual(state["r1"]!.pendingWebhooks, [{ episode: 1, transition: "resolved", value: 3, at: "t3" }]);
  });

  it("owes nothing for a rule without webhook, and shows it firing", () => {
    const state = fold(alertsProjection, [event("AlertRuleCreated", { rule: { ...rule, webhookUrl: "" } }), fired]);
    assert.deepEqual(state["r1"]!.pendingWebhooks, []);
    assert.deepEqual(state["r1"]!.firing, { episode: 1, value: 0, firedAt: "t1" });
  });
});

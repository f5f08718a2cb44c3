import { describe, it } from "node:test";
import { AlreadyExistsError, NotFoundError } from "@eas/decider";
import { deciderSpecification } from "@eas/decider/testing";
import { event } from "@eas/events";
import type { AlertRule } from "@eas/proto";
import { alertDecider } from "./alert-decider.js";

const spec = deciderSpecification(alertDecider);
const rule: AlertRule = {
  id: "r1",
  service: "svc",
  metric: "error_ratio",
  comparison: ">",
  threshold: 0.01,
  windowSeconds: 60,
  webhookUrl: "http://hook.test/x",
  description: "",
  createdAt: "2026-01-01T00:00:00Z",
};
const created = event("AlertRuleCreated", { rule });
const fired = event("AlertFired", {
  ruleId: "r1",
  service: "svc",
  episode: 1,
  metric: "error_ratio",
  comparison: ">",
  threshold: 0.01,
  windowSeconds: 60,
  value: 0.5,
  firedAt: "t1",
});
const resolved = event("AlertResolved", { ruleId: "r1", service: "svc", episode: 1, value: 0, resolvedAt: "t2" });

describe("alert rule decider", () => {
  it("creates a rule once", () => {
    spec.given([]).when({ type: "CreateAlertRule", rule }).then([created]);
    spec.given([created]).when({ type: "CreateAlertRule", rule }).thenThrows(AlreadyExistsError);
  });

  it("fires the first episode", () => {
    spec.given([created]).when({ type: "FireAlert", ruleId: "r1", value: 0.5, now: "t1" }).then([fired]);
  });

  it("never fires an episode twice (a restarted monitor deciding again writes nothing)", () => {
    spec.given([created, fired]).when({ type: "FireAlert", ruleId: "r1", value: 0.7, now: "t3" }).then([]);
  });

  it("resolves a firing rule, and only then", () => {
    spec.given([created, fired]).when({ type: "ResolveAlert", ruleId: "r1", value: 0, now: "t2" }).then([resolved]);
    spec.given([created]).when({ type: "ResolveAlert", ruleId: "r1", value: 0, now: "t2" }).then([]);
  });

  it("numbers the next episode", () => {
    spec
      .given([created, fired, resolved])
      .when({ type: "FireAlert", ruleId: "r1", value: 0.2, now: "t4" })
      .thenMatches((events) => {
        if (events[0]?.type !== "eas.v1.AlertFired" || events[0].data.episode !== 2)
          throw new Error(`expected episode 2, got ${JSON.stringify(events)}`);
      });
  });

  it("deleting a firing rule resolves it first", () => {
    spec
      .given([created, fired])
      .when({ type: "DeleteAlertRule", ruleId: "r1", now: "t5" })
      .then([
        event("AlertResolved", { ruleId: "r1", service: "svc", episode: 1, resolvedAt: "t5" }),
        event("AlertRuleDeleted", { ruleId: "r1", service: "svc", deletedAt: "t5" }),
      ]);
    spec.given([]).when({ type: "DeleteAlertRule", ruleId: "r1", now: "t5" }).thenThrows(NotFoundError);
  });

  it("a deleted rule neither fires nor records webhooks", () => {
    const deleted = event("AlertRuleDeleted", { ruleId: "r1", service: "svc", deletedAt: "t5" });
    spec.given([created, deleted]).when({ type: "FireAlert", ruleId: "r1", value: 1, now: "t6" }).then([]);
  });

  it("records a webhook outcome", () => {
    spec
      .given([created, fired])
      .when({
        type: "RecordWebhook",
        ruleId: "r1",
        episode: 1,
        transition: "firing",
        attempts: 2,
        outcome: { delivered: true, statusCode: 204 },
        now: "t7",
      })
      .then([event("AlertWebhookDelivered", { ruleId: "r1", episode: 1, transition: "firing", attempts: 2, statusCode: 204, at: "t7" })]);
  });
});

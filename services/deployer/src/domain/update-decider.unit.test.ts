import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NotFoundError, ValidationError } from "@eas/decider";
import { deciderSpecification } from "@eas/decider/testing";
import { event } from "@eas/events";
import type { ServiceSpec } from "@eas/proto";
import { parseServiceDocument } from "@eas/service-spec";
import { updateDecider, type UpdateRequest } from "./update-decider.js";

function specOf(document: object): ServiceSpec {
  const parsed = parseServiceDocument(JSON.stringify(document));
  assert.ok(parsed.ok, JSON.stringify(parsed));
  return parsed.value;
}

const T0 = "2026-11-30T10:00:00.000Z";
const T1 = "2026-11-30T10:05:00.000Z";
const v1 = specOf({ name: "echo", metadata: { instance: 2, cpu: 1, memory: 256 }, processor: "echo", processor_config: { latency_ms: 5 } });
const v2 = specOf({ name: "echo", metadata: { instance: 2, cpu: 1, memory: 512 }, processor: "echo", processor_config: { latency_ms: 5 } });
const created = event("ServiceCreated", { name: "echo", spec: v1, version: 1, token: "", createdAt: T0, tokenSha256: "ab12" });
const updatedToV2 = event("ServiceUpdated", { name: "echo", spec: v2, version: 2, updateType: "merge", updatedAt: T0 });
const scaledTo5 = event("ServiceScaled", { name: "echo", fromReplicas: 2, toReplicas: 5, cause: "user", scaledAt: T0, reason: "" });
const rolledBackTo1 = event("ServiceRolledBack", { name: "echo", fromVersion: 2, toVersion: 1, rolledBackAt: T0 });
const given = deciderSpecification(updateDecider).given;
const update = (patch: object | string, updateType = "merge"): UpdateRequest => ({
  name: "echo",
  patch: typeof patch === "string" ? patch : JSON.stringify(patch),
  updateType,
  now: T1,
});

/** The one ServiceUpdated a decision must produce. */
function theUpdate(check: (e: { version: number; spec: ServiceSpec; updateType: string }) => void) {
  return (events: { type: string; data: unknown }[]) => {
    assert.equal(events.length, 1);
    assert.equal(events[0]!.type, "eas.v1.ServiceUpdated");
    check(events[0]!.data as { version: number; spec: ServiceSpec; updateType: string });
  };
}

describe("UpdateService decided on the logged spec", () => {
  it("given a scaled service, when a merge leaves metadata.instance out, then the new version keeps the scaled count", () =>
    given([created, scaledTo5])
      .when(update({ processor_config: { latency_ms: 9 } }))
      .thenMatches(
        theUpdate(({ version, spec, updateType }) => {
          assert.equal(version, 2);
          assert.equal(updateType, "merge");
          assert.equal(spec.instance, 5);
          assert.equal(spec.resources?.memoryMib, 256, "the rest comes from the logged spec");
        }),
      ));

  it("given a scaled service, when a merge names metadata.instance, then that count wins", () =>
    given([created, scaledTo5])
      .when(update({ metadata: { instance: 3 } }))
      .thenMatches(theUpdate(({ spec }) => assert.equal(spec.instance, 3))));

  it("given two versions, when a merge follows another update, then it builds on the latest logged spec, not an older read", () =>
    given([created, updatedToV2])
      .when(update({ metadata: { cpu: 2 } }))
      .thenMatches(
        theUpdate(({ version, spec }) => {
          assert.equal(version, 3);
          assert.equal(spec.resources?.memoryMib, 512, "the concurrent update's change survives");
          assert.equal(spec.resources?.cpuMillis, 2000);
        }),
      ));

  it("given a rollback to version 1, when a merge arrives, then it builds on version 1", () =>
    given([created, updatedToV2, rolledBackTo1])
      .when(update({ metadata: { cpu: 2 } }))
      .thenMatches(
        theUpdate(({ version, spec }) => {
          assert.equal(version, 3);
          assert.equal(spec.resources?.memoryMib, 256);
        }),
      ));

  it("given a replace, then the document alone decides, the replica count included", () =>
    given([created, scaledTo5])
      .when(update({ name: "echo", metadata: { instance: 1, memory: 128 }, processor: "echo" }, "replace"))
      .thenMatches(
        theUpdate(({ spec, updateType }) => {
          assert.equal(updateType, "replace");
          assert.equal(spec.instance, 1);
          assert.equal(spec.resources?.memoryMib, 128);
        }),
      ));

  it("given no service, then NotFound", () =>
    given([])
      .when(update({ metadata: { cpu: 2 } }))
      .thenThrows(NotFoundError));

  it("given an invalid patch, then a ValidationError naming the field", () =>
    given([created])
      .when(update({ metadata: { cpu: -1 } }))
      .thenThrows(ValidationError, (error) =>
        assert.ok(
          error.violations.some((v) => v.path === "metadata.cpu"),
          JSON.stringify(error.violations),
        ),
      ));

  it("given a patch that is not JSON or YAML, then a ValidationError", () =>
    given([created]).when(update("{ not: [valid")).thenThrows(ValidationError));
});

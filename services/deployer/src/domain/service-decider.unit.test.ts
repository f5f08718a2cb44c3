import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { AlreadyExistsError, NotFoundError, PreconditionFailedError, ValidationError } from "@eas/decider";
import { deciderSpecification } from "@eas/decider/testing";
import { event } from "@eas/events";
import { ServiceSpec } from "@eas/proto";
import { serviceDecider } from "./service-decider.js";

const spec = (instance = 2, name = "iris") => ServiceSpec.fromPartial({ name, instance, resources: { cpuMillis: 1000, memoryMib: 512 } });
const T0 = "2026-11-28T10:00:00.000Z";
const T1 = "2026-11-28T10:05:00.000Z";
const created = event("ServiceCreated", { name: "iris", spec: spec(), version: 1, token: "", createdAt: T0, tokenSha256: "ab12" });
const updated = event("ServiceUpdated", { name: "iris", spec: spec(3), version: 2, updateType: "merge", updatedAt: T1 });
const given = deciderSpecification(serviceDecider).given;

describe("Service decider", () => {
  describe("CreateService", () => {
    it("creates version 1 with the token's digest, never the token", () =>
      given([]).when({ type: "CreateService", spec: spec(), tokenSha256: "ab12", now: T0 }).then([created]));
    it("rejects a second create", () =>
      given([created]).when({ type: "CreateService", spec: spec(), tokenSha256: "cd34", now: T1 }).thenThrows(AlreadyExistsError));
    it("allows re-creating a deleted service", () =>
      given([created, event("ServiceDeleted", { name: "iris", deletedAt: T1 })])
        .when({ type: "CreateService", spec: spec(), tokenSha256: "ab12", now: T0 })
        .then([created]));
  });

  describe("UpdateService", () => {
    it("appends the next version", () =>
      given([created])
        .when({ type: "UpdateService", spec: spec(3), updateType: "merge", now: T1 })
        .then([updated]));
    it("fails for an unknown service", () =>
      given([])
        .when({ type: "UpdateService", spec: spec(3), updateType: "merge", now: T1 })
        .thenThrows(NotFoundError));
  });

  describe("ScaleService", () => {
    it("records from and to replicas", () =>
      given([created])
        .when({ type: "ScaleService", name: "iris", replicas: 5, cause: "user", now: T1 })
        .then([event("ServiceScaled", { name: "iris", fromReplicas: 2, toReplicas: 5, cause: "user", scaledAt: T1, reason: "" })]));
    it("is a no-op at the same count", () =>
      given([created]).when({ type: "ScaleService", name: "iris", replicas: 2, cause: "user", now: T1 }).then([]));
    it("names the missing service", () =>
      given([])
        .when({ type: "ScaleService", name: "nope", replicas: 1, cause: "user", now: T1 })
        .thenThrows(NotFoundError, (e) => assert.equal(e.id, "nope")));
  });

  it("reads the token digest of a ServiceCreated from before ADR 0027, which held the token in clear", () => {
    const legacy = event("ServiceCreated", { name: "iris", spec: spec(), version: 1, token: "abc", createdAt: T0, tokenSha256: "" });
    const state = serviceDecider.evolve(serviceDecider.initialState(), legacy);
    assert.equal(state.exists && state.tokenSha256, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  describe("Stop and start", () => {
    const stopped = event("ServiceStopped", { name: "iris", stoppedAt: T1 });
    it("stops a running service", () => given([created]).when({ type: "StopService", name: "iris", now: T1 }).then([stopped]));
    it("stopping twice is a no-op", () => given([created, stopped]).when({ type: "StopService", name: "iris", now: T1 }).then([]));
    it("starts a stopped service", () =>
      given([created, stopped])
        .when({ type: "StartService", name: "iris", now: T1 })
        .then([event("ServiceStarted", { name: "iris", startedAt: T1 })]));
    it("starting a running service is a no-op", () => given([created]).when({ type: "StartService", name: "iris", now: T1 }).then([]));
  });

  describe("RollbackService", () => {
    it("goes back to an earlier version", () =>
      given([created, updated])
        .when({ type: "RollbackService", name: "iris", version: 1, now: T1 })
        .then([event("ServiceRolledBack", { name: "iris", fromVersion: 2, toVersion: 1, rolledBackAt: T1 })]));
    it("rejects an unknown version, naming the versions there are", () =>
      given([created, updated])
        .when({ type: "RollbackService", name: "iris", version: 7, now: T1 })
        .thenThrows(NotFoundError, (e) => assert.equal(e.message, "service iris has no version 7; versions: 1, 2")));
    it("rejects the current version", () =>
      given([created]).when({ type: "RollbackService", name: "iris", version: 1, now: T1 }).thenThrows(PreconditionFailedError));
  });

  it("rejects renaming through an update", () =>
    given([created])
      .when({ type: "UpdateService", spec: spec(1, "other"), updateType: "replace", now: T1 })
      .thenThrows(ValidationError));

  it("DeleteService of an unknown service fails", () =>
    given([]).when({ type: "DeleteService", name: "iris", now: T1 }).thenThrows(NotFoundError));

  it("ValidationError lists its violations", () => {
    const error = new ValidationError([{ path: "metadata.instance", message: "must be >= 0" }]);
    assert.equal(error.message, "metadata.instance: must be >= 0");
  });

  describe("RecordPlacementBlocked", () => {
    const blocked = { type: "RecordPlacementBlocked", name: "iris", reason: "0/2 nodes: 2 insufficient cpu", now: T1 } as const;
    it("records the reason", () =>
      given([created])
        .when(blocked)
        .then([event("ServicePlacementBlocked", { name: "iris", reason: "0/2 nodes: 2 insufficient cpu", at: T1 })]));
    it("fails for a deleted service", () =>
      given([created, event("ServiceDeleted", { name: "iris", deletedAt: T1 })])
        .when(blocked)
        .thenThrows(NotFoundError));
  });
});

import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { AlreadyExistsError, NotFoundError, ValidationError } from "@eas/decider";
import { deciderSpecification } from "@eas/decider/testing";
import { event } from "@eas/events";
import { groupDecider } from "./group-decider.js";

const T0 = "2026-12-04T10:00:00.000Z";
const known = ["iris", "iris_v2"];
const members = [
  { service: "iris", weight: 90 },
  { service: "iris_v2", weight: 10 },
];
const created = event("ServiceGroupCreated", { name: "flowers", members, tokenSha256: "ab12", at: T0 });
const given = deciderSpecification(groupDecider).given;
const create = (overrides: Partial<{ name: string; members: typeof members }> = {}) => ({
  type: "CreateGroup" as const,
  name: "flowers",
  members,
  knownServices: known,
  tokenSha256: "ab12",
  now: T0,
  ...overrides,
});
const firstPath = (e: ValidationError) => e.violations[0]?.path;

describe("ServiceGroup decider", () => {
  it("creates a group of known services with the digest of its token", () => given([]).when(create()).then([created]));
  it("names a member that is no service", () =>
    given([])
      .when(create({ members: [...members, { service: "nope", weight: 5 }] }))
      .thenThrows(ValidationError, (e) => assert.equal(firstPath(e), "members[2].service")));
  it("names a weight outside 0-100", () =>
    given([])
      .when(create({ members: [{ service: "iris", weight: 101 }] }))
      .thenThrows(ValidationError, (e) => assert.equal(firstPath(e), "members[0].weight")));
  it("refuses a group without members, or whose weights are all 0", () => {
    given([])
      .when(create({ members: [] }))
      .thenThrows(ValidationError, (e) => assert.equal(firstPath(e), "members"));
    given([])
      .when(create({ members: [{ service: "iris", weight: 0 }] }))
      .thenThrows(ValidationError, (e) => assert.equal(firstPath(e), "members"));
  });
  it("refuses a name a service has (they share /api/predict/<name>)", () =>
    given([])
      .when(create({ name: "iris" }))
      .thenThrows(ValidationError, (e) => assert.equal(firstPath(e), "name")));
  it("refuses a second create", () => given([created]).when(create()).thenThrows(AlreadyExistsError));
  it("replaces the members, once", () => {
    const update = {
      type: "UpdateGroup" as const,
      name: "flowers",
      members: [{ service: "iris", weight: 1 }],
      knownServices: known,
      now: T0,
    };
    given([created])
      .when(update)
      .then([event("ServiceGroupUpdated", { name: "flowers", members: update.members, at: T0 })]);
    given([created])
      .when({ ...update, members })
      .then([]);
  });
  it("deletes a group, and not twice", () => {
    const deleted = event("ServiceGroupDeleted", { name: "flowers", at: T0 });
    given([created]).when({ type: "DeleteGroup", name: "flowers", now: T0 }).then([deleted]);
    given([created, deleted]).when({ type: "DeleteGroup", name: "flowers", now: T0 }).thenThrows(NotFoundError);
  });
});

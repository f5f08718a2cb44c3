import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { mulberry32 } from "@eas/testing";
import { CANARY_LANE, parsePinnedVersion, STABLE_LANE } from "./lanes.js";
import type { RouteEntry, RouteInstance } from "./route-table.js";
import { ServiceRoute } from "./service-route.js";
import { routeEntry } from "./test-support.js";

const NO_LOGGER = { debug() {}, info() {}, warn() {}, error() {} };
const instance = (id: string, version: number): RouteInstance => ({ id, endpoint: `127.0.0.1:${10_000 + version}`, version });

describe("parsePinnedVersion", () => {
  for (const [value, expected] of [
    ["1", 1],
    [" 12 ", 12],
    ["007", 7],
    ["0", -1],
    ["-2", -1],
    ["+2", -1],
    ["2.0", -1],
    ["1e2", -1],
    ["", -1],
    ["v2", -1],
    ["1234567890", -1],
  ] as const) {
    it(`reads ${JSON.stringify(value)} as ${expected}`, () => assert.equal(parsePinnedVersion(value), expected));
  }
});

describe("ServiceRoute lanes", () => {
  const routes: ServiceRoute<unknown>[] = [];
  after(() => routes.forEach((route) => route.remove()));
  function route(instances: RouteInstance[], overrides: Partial<RouteEntry>): ServiceRoute<unknown> {
    const built = new ServiceRoute<unknown>(routeEntry("svc", instances, overrides), 0, NO_LOGGER, mulberry32(1));
    routes.push(built);
    return built;
  }
  const draws = (r: ServiceRoute<unknown>, n: number) => Array.from({ length: n }, () => r.drawLane());
  const picked = (r: ServiceRoute<unknown>, lane: number) => r.pick(lane, 0)?.id;

  it("draws the canary exactly its weight's share when both sides have a Ready instance", () => {
    const r = route([instance("s", 1), instance("c", 2)], { canary: { version: 2, weight: 10 } });
    assert.equal(draws(r, 1_000).filter((lane) => lane === CANARY_LANE).length, 100);
    assert.equal(picked(r, CANARY_LANE), "c");
    assert.equal(picked(r, STABLE_LANE), "s");
  });

  it("never draws a canary without a Ready instance, nor one of weight 0; draws only the canary when the stable side has none", () => {
    assert.deepEqual(new Set(draws(route([instance("s", 1)], { canary: { version: 2, weight: 90 } }), 50)), new Set([STABLE_LANE]));
    assert.deepEqual(
      new Set(draws(route([instance("s", 1), instance("c", 2)], { canary: { version: 2, weight: 0 } }), 50)),
      new Set([STABLE_LANE]),
    );
    const canaryOnly = route([instance("c", 2)], { canary: { version: 2, weight: 5 } });
    assert.deepEqual(new Set(draws(canaryOnly, 50)), new Set([CANARY_LANE]));
    assert.equal(canaryOnly.routable, true);
    assert.equal(route([instance("c", 2)], { canary: { version: 2, weight: 0 }, state: "running" }).routable, false);
  });

  it("keeps withdrawn versions out of the stable side but pinnable; every other version is stable", () => {
    const r = route([instance("old", 1), instance("new", 3), instance("aborted", 2)], { withdrawn: [2], latestVersion: 3 });
    const stable = new Set(Array.from({ length: 20 }, () => picked(r, STABLE_LANE)));
    assert.deepEqual(stable, new Set(["old", "new"]));
    assert.equal(picked(r, 2), "aborted");
    assert.deepEqual([r.pinnedVersionState(2), r.pinnedVersionState(3), r.pinnedVersionState(4)], ["ready", "ready", "unknown"]);
    assert.equal(route([instance("old", 1)], { latestVersion: 3 }).pinnedVersionState(2), "not-ready");
  });

  it("a request drawn for the canary goes to the stable side once the canary has no instance; a pinned one has no fallback", () => {
    const r = route([instance("s", 1), instance("c", 2)], { canary: { version: 2, weight: 50 } });
    r.update(routeEntry("svc", [instance("s", 1)], { withdrawn: [2] }), 0);
    assert.equal(picked(r, CANARY_LANE), "s");
    assert.equal(picked(r, 2), undefined);
    assert.equal(r.laneRoutable(2), false);
  });

  it("retries a request in its lane, then on the other side when it pinned no version", () => {
    const r = route([instance("s", 1), instance("c", 2)], { canary: { version: 2, weight: 50 } });
    const canary = r.pick(CANARY_LANE, 0)!;
    assert.equal(r.retryLane(CANARY_LANE, canary), STABLE_LANE);
    assert.equal(r.retryLane(2, canary), undefined);
    const both = route([instance("s1", 1), instance("s2", 1)], {});
    assert.equal(both.retryLane(STABLE_LANE, both.pick(STABLE_LANE, 0)!), STABLE_LANE);
  });

  it("copies exactly the mirror's ratio of the requests", () => {
    const r = route([instance("s", 1)], { mirror: { target: "other", targetVersion: 0, ratio: 20 } });
    assert.equal(Array.from({ length: 500 }, () => r.drawMirror()).filter(Boolean).length, 100);
    assert.equal(route([instance("s", 1)], {}).drawMirror(), false);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { clusterFrom, registered } from "../testing/fixtures.js";
import { AGENT_NOT_CONNECTED, withConnectedAgents } from "./connected.js";
import { defaultPlacementPolicy, place } from "./place.js";
import type { PlacementRequest } from "./types.js";

const request: PlacementRequest = {
  instanceId: "svc-1",
  service: "svc",
  version: 1,
  resources: { cpuMillis: 500, memoryMib: 256, gpu: 0, gpuType: "", gpuMemoryGib: 0 },
  resourceGroup: "",
  resourceBurstable: false,
  spotAllowed: false,
  maxSpotPrice: 0,
  instanceTypes: [],
};

describe("agentConnectedFilter", () => {
  const cluster = clusterFrom([registered({ id: "n1" }), registered({ id: "n2" })]);

  it("places only on nodes whose agent was heard from at its registered address", () => {
    const decision = place(
      request,
      cluster,
      withConnectedAgents(defaultPlacementPolicy, (node) => node.id === "n2"),
    );
    assert.ok(decision.placed);
    assert.equal(decision.nodeId, "n2");
  });

  it("says why when no agent is back yet", () => {
    const decision = place(
      request,
      cluster,
      withConnectedAgents(defaultPlacementPolicy, () => false),
    );
    assert.deepEqual(decision.placed ? undefined : decision.reason, `0/2 nodes: 2 ${AGENT_NOT_CONNECTED}`);
  });
});

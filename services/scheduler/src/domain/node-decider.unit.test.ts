import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NotFoundError, PreconditionFailedError, ValidationError } from "@eas/decider";
import { deciderSpecification } from "@eas/decider/testing";
import { T0, iso, resources } from "../testing/fixtures.js";
import { NodeCommandType, type NodeCommand, type RegisterNode } from "./node-commands.js";
import { nodeDecider } from "./node-decider.js";
import { NodeCommandRejected, NodeRejectionCode } from "./node-errors.js";
import type { NodeEvent } from "./node.js";

const spec = deciderSpecification(nodeDecider);

/** The error each rejection becomes at the decider's edge (and so the gRPC status). */
const ERROR_OF_REJECTION = {
  [NodeRejectionCode.UnknownNode]: NotFoundError,
  [NodeRejectionCode.InvalidCommand]: ValidationError,
  [NodeRejectionCode.NodeLost]: PreconditionFailedError,
  [NodeRejectionCode.NotApplicable]: PreconditionFailedError,
} as const;

/** given(events).when(command).then(events) | .thenThrows(rejection code), on `@eas/decider/testing`. */
function given(...history: NodeEvent[]) {
  return {
    when(command: NodeCommand) {
      const when = spec.given(history).when(command);
      return {
        then: (expected: NodeEvent[]) => when.then(expected),
        thenThrows: (code: NodeRejectionCode) =>
          when.thenThrows(ERROR_OF_REJECTION[code] as new (...args: never[]) => Error, (error) =>
            assert.ok(error instanceof ERROR_OF_REJECTION[code], `${code} maps to ${ERROR_OF_REJECTION[code].name}`),
          ),
      };
    },
  };
}

const capacity = resources({ cpuMillis: 4000, memoryMib: 8192 });

function register(overrides: Partial<RegisterNode> = {}): RegisterNode {
  return {
    type: NodeCommandType.RegisterNode,
    nodeId: "n1",
    capacity,
    resourceGroup: "",
    spot: false,
    pricePerHour: 1.5,
    instanceType: "",
    agentAddress: "127.0.0.1:7001",
    labels: { zone: "a" },
    rates: { cpuCoreHourMicros: 40_000, memoryGibHourMicros: 5_000, gpuHourMicros: 0 },
    now: iso(T0),
    ...overrides,
  };
}

function registeredFrom(command: RegisterNode): NodeEvent {
  return {
    type: "eas.v1.NodeRegistered",
    data: {
      nodeId: command.nodeId,
      capacity: command.capacity,
      resourceGroup: command.resourceGroup,
      spot: command.spot,
      pricePerHour: command.pricePerHour,
      agentAddress: command.agentAddress,
      labels: { ...command.labels },
      at: command.now,
      rates: { ...command.rates },
      instanceType: command.instanceType,
    },
  };
}

const cordoned: NodeEvent = { type: "eas.v1.NodeCordoned", data: { nodeId: "n1", reason: "maintenance", at: iso(T0 + 1) } };
const lost: NodeEvent = { type: "eas.v1.NodeLost", data: { nodeId: "n1", reason: "heartbeat timeout", at: iso(T0 + 2) } };

describe("decideNode: RegisterNode", () => {
  it("registers a new node", () => {
    given()
      .when(register())
      .then([registeredFrom(register())]);
  });

  it("is idempotent when a live node registers again unchanged", () => {
    given(registeredFrom(register()))
      .when(register({ now: iso(T0 + 60_000) }))
      .then([]);
  });

  it("is idempotent for a cordoned node registering again unchanged", () => {
    given(registeredFrom(register()), cordoned)
      .when(register({ now: iso(T0 + 60_000) }))
      .then([]);
  });

  const changes: Array<[string, Partial<RegisterNode>]> = [
    ["new capacity", { capacity: resources({ cpuMillis: 8000, memoryMib: 8192 }) }],
    ["new agent address", { agentAddress: "127.0.0.1:7999" }],
    ["new resource group", { resourceGroup: "team-a" }],
    ["new price", { pricePerHour: 0.5 }],
    ["new labels", { labels: { zone: "b" } }],
    ["new rates", { rates: { cpuCoreHourMicros: 30_000, memoryGibHourMicros: 5_000, gpuHourMicros: 0 } }],
    ["spot flag", { spot: true }],
  ];
  for (const [what, change] of changes) {
    it(`emits NodeRegistered again for a ${what}`, () => {
      const again = register({ ...change, now: iso(T0 + 1000) });
      given(registeredFrom(register()))
        .when(again)
        .then([registeredFrom(again)]);
    });
  }

  it("brings a lost node back (same registration after an agent restart)", () => {
    const again = register({ now: iso(T0 + 120_000) });
    given(registeredFrom(register()), lost)
      .when(again)
      .then([registeredFrom(again)]);
  });

  const invalid: Array<[string, Partial<RegisterNode>]> = [
    ["an empty node id", { nodeId: "" }],
    ["a node id with a space", { nodeId: "node 1" }],
    ["a node id with a NATS wildcard", { nodeId: "node>" }],
    ["negative cpu", { capacity: resources({ cpuMillis: -1 }) }],
    ["fractional memory", { capacity: resources({ memoryMib: 1.5 }) }],
    ["gpu memory without gpus", { capacity: resources({ gpuMemoryGib: 16 }) }],
    ["a negative price", { pricePerHour: -1 }],
    ["a negative CPU rate", { rates: { cpuCoreHourMicros: -1, memoryGibHourMicros: 0, gpuHourMicros: 0 } }],
    ["a fractional GPU rate", { rates: { cpuCoreHourMicros: 0, memoryGibHourMicros: 0, gpuHourMicros: 0.5 } }],
    ["an empty agent address", { agentAddress: " " }],
    ["a time that is not an ISO 8601 time", { now: "yesterday" }],
  ];
  for (const [what, change] of invalid) {
    it(`rejects ${what}`, () => {
      given().when(register(change)).thenThrows(NodeRejectionCode.InvalidCommand);
    });
  }
});

describe("decideNode: CordonNode / UncordonNode", () => {
  const cordon: NodeCommand = { type: NodeCommandType.CordonNode, nodeId: "n1", reason: "maintenance", now: iso(T0 + 1) };
  const uncordon: NodeCommand = { type: NodeCommandType.UncordonNode, nodeId: "n1", now: iso(T0 + 5) };

  it("cordons a ready node", () => {
    given(registeredFrom(register())).when(cordon).then([cordoned]);
  });
  it("cordoning twice gives nothing the second time", () => {
    given(registeredFrom(register()), cordoned).when(cordon).then([]);
  });
  it("uncordons a cordoned node", () => {
    given(registeredFrom(register()), cordoned)
      .when(uncordon)
      .then([{ type: "eas.v1.NodeUncordoned", data: { nodeId: "n1", at: iso(T0 + 5) } }]);
  });
  it("uncordoning a ready node gives nothing", () => {
    given(registeredFrom(register())).when(uncordon).then([]);
  });
  it("rejects cordoning an unknown node", () => {
    given().when(cordon).thenThrows(NodeRejectionCode.UnknownNode);
  });
  it("rejects uncordoning an unknown node", () => {
    given().when(uncordon).thenThrows(NodeRejectionCode.UnknownNode);
  });
  it("rejects cordoning a lost node", () => {
    given(registeredFrom(register()), lost).when(cordon).thenThrows(NodeRejectionCode.NodeLost);
  });
  it("rejects uncordoning a lost node", () => {
    given(registeredFrom(register()), lost).when(uncordon).thenThrows(NodeRejectionCode.NodeLost);
  });
});

describe("decideNode: MarkNodeLost", () => {
  const markLost: NodeCommand = { type: NodeCommandType.MarkNodeLost, nodeId: "n1", reason: "heartbeat timeout", now: iso(T0 + 2) };

  it("marks a ready node lost", () => {
    given(registeredFrom(register())).when(markLost).then([lost]);
  });
  it("marks a cordoned node lost", () => {
    given(registeredFrom(register()), cordoned).when(markLost).then([lost]);
  });
  it("is idempotent for a node already lost", () => {
    given(registeredFrom(register()), lost).when(markLost).then([]);
  });
  it("rejects an unknown node", () => {
    given().when(markLost).thenThrows(NodeRejectionCode.UnknownNode);
  });
});

describe("decideNode: reclaim", () => {
  const spot = register({ spot: true, pricePerHour: 0.2 });
  const deadline = iso(T0 + 30_000);
  const notice: NodeCommand = {
    type: NodeCommandType.NoticeReclaim,
    nodeId: "n1",
    deadline,
    reason: "eas nodes reclaim",
    now: iso(T0 + 3),
  };
  const noticed: NodeEvent = {
    type: "eas.v1.NodeReclaimNoticed",
    data: { nodeId: "n1", deadline, reason: "eas nodes reclaim", at: iso(T0 + 3) },
  };
  const markReclaimed: NodeCommand = { type: NodeCommandType.MarkNodeReclaimed, nodeId: "n1", reason: "node n1 reclaimed", now: deadline };
  const reclaimed: NodeEvent = { type: "eas.v1.NodeReclaimed", data: { nodeId: "n1", reason: "node n1 reclaimed", at: deadline } };

  it("records the notice of a spot node with its deadline; a repeat records nothing (the first deadline holds)", () => {
    given(registeredFrom(spot)).when(notice).then([noticed]);
    given(registeredFrom(spot), noticed)
      .when({ ...notice, deadline: iso(T0 + 10_000) })
      .then([]);
  });
  it("refuses a notice for an on-demand node, a lost one, or one already reclaimed", () => {
    given(registeredFrom(register())).when(notice).thenThrows(NodeRejectionCode.NotApplicable);
    given(registeredFrom(spot), lost).when(notice).thenThrows(NodeRejectionCode.NodeLost);
    given(registeredFrom(spot), noticed, reclaimed).when(notice).thenThrows(NodeRejectionCode.NodeLost);
  });
  it("refuses a deadline that is not a time", () => {
    given(registeredFrom(spot))
      .when({ ...notice, deadline: "soon" })
      .thenThrows(NodeRejectionCode.InvalidCommand);
  });
  it("keeps a node being reclaimed out of service: cordoning records nothing, uncordoning is refused", () => {
    const cordon: NodeCommand = { type: NodeCommandType.CordonNode, nodeId: "n1", reason: "maintenance", now: iso(T0 + 4) };
    const uncordon: NodeCommand = { type: NodeCommandType.UncordonNode, nodeId: "n1", now: iso(T0 + 5) };
    given(registeredFrom(spot), noticed).when(cordon).then([]);
    given(registeredFrom(spot), noticed).when(uncordon).thenThrows(NodeRejectionCode.NotApplicable);
  });
  it("marks the node reclaimed after a notice, once; never without one", () => {
    given(registeredFrom(spot), noticed).when(markReclaimed).then([reclaimed]);
    given(registeredFrom(spot), noticed, reclaimed).when(markReclaimed).then([]);
    given(registeredFrom(spot)).when(markReclaimed).thenThrows(NodeRejectionCode.NotApplicable);
  });
  it("does not mark a reclaimed node lost, and a registration brings it back", () => {
    given(registeredFrom(spot), noticed, reclaimed)
      .when({ type: NodeCommandType.MarkNodeLost, nodeId: "n1", reason: "timeout", now: iso(T0 + 40_000) })
      .then([]);
    given(registeredFrom(spot), noticed, reclaimed)
      .when({ ...spot, now: iso(T0 + 50_000) })
      .then([registeredFrom({ ...spot, now: iso(T0 + 50_000) })]);
  });
  it("a node being reclaimed that registers again unchanged records nothing (the notice holds)", () => {
    given(registeredFrom(spot), noticed).when(spot).then([]);
  });
});

describe("NodeCommandRejected", () => {
  it("carries structured fields and a readable message", () => {
    const error = new NodeCommandRejected({
      code: NodeRejectionCode.UnknownNode,
      command: NodeCommandType.CordonNode,
      nodeId: "n9",
      reason: "node is not registered",
    });
    assert.equal(error.name, "NodeCommandRejected");
    assert.equal(error.retryable, false);
    assert.equal(error.message, 'CordonNode "n9" rejected: node is not registered');
    assert.ok(error instanceof Error);
  });
});

import type { InstanceTypeChoice, Resources } from "@eas/proto";
import type { NodeState, Pool } from "../domain/index.js";
import type { ClusterState } from "../projections/evolve-cluster.js";

/** What to place: one instance of a service version (mirrors PlaceInstanceRequest). */
export interface PlacementRequest {
  readonly instanceId: string;
  readonly service: string;
  readonly version: number;
  readonly resources: Resources;
  /** Dedicated group the service runs in; "" for the public pool. */
  readonly resourceGroup: string;
  /** May overflow from its dedicated group to the public pool when the group is full. */
  readonly resourceBurstable: boolean;
  readonly spotAllowed: boolean;
  /** Highest hourly price accepted for a spot node; 0 means no ceiling. */
  readonly maxSpotPrice: number;
  /**
   * EAS's instance-type priority list; empty means any node. Otherwise a node must match an entry (a spot bid
   * of its type under the entry's limit, or an on-demand entry of its type) and earlier entries are preferred.
   */
  readonly instanceTypes: readonly InstanceTypeChoice[];
}

/** A filter's verdict on one node. */
export type FilterResult = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/** A hard constraint: a node that fails it cannot take the instance. */
export interface NodeFilter {
  readonly name: string;
  filter(request: PlacementRequest, node: NodeState): FilterResult;
}

/** A preference among feasible nodes: higher is better. */
export interface NodeScorer {
  readonly name: string;
  score(request: PlacementRequest, node: NodeState, cluster: ClusterState): number;
}

/**
 * Filters run in order and the first that fails names the node's rejection.
 * Scorers rank feasible nodes lexicographically: the first scorer decides,
 * each next one only breaks ties of those before it, and the node id breaks
 * the last ties so that a placement is deterministic.
 */
export interface PlacementPolicy {
  readonly filters: readonly NodeFilter[];
  readonly scorers: readonly NodeScorer[];
}

/** The outcome of {@link place}. */
export type PlacementDecision =
  | {
      readonly placed: true;
      readonly nodeId: string;
      readonly pool: Pool;
      readonly agentAddress: string;
      readonly spot: boolean;
    }
  | {
      readonly placed: false;
      /** Kubernetes-style summary, e.g. "0/3 nodes: 2 insufficient memory, 1 other resource group". */
      readonly reason: string;
      /** nodeId -> the first filter that rejected it. */
      readonly rejections: Readonly<Record<string, string>>;
    };

/** Reasons the default filters give. */
export const RejectionReason = {
  NodeNotReady: "node not ready",
  OtherResourceGroup: "other resource group",
  SpotNotAllowed: "spot not allowed",
  SpotPriceAboveCeiling: "spot price above ceiling",
  GpuTypeMismatch: "gpu type mismatch",
  InsufficientGpu: "insufficient gpu",
  InsufficientGpuMemory: "insufficient gpu memory",
  InsufficientCpu: "insufficient cpu",
  InsufficientMemory: "insufficient memory",
  InstanceTypeNotListed: "instance type not listed",
} as const;
export type RejectionReason = (typeof RejectionReason)[keyof typeof RejectionReason];

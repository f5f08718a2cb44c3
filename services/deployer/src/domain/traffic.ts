import type { EventOf } from "@eas/events";
import type { ReleasePlan, ReleaseStepMeasured } from "@eas/proto";

/** A version running beside the stable one for a share of the requests. */
export interface CanaryState {
  version: number;
  /** Percent of the requests that pin no version, 0 to 100. */
  weight: number;
  /** Instances asked for; 0: follows the weight ({@link canaryReplicaCount}). */
  replicas: number;
  cause: string;
  startedAt: string;
}

/** A release plan driving the canary, with every window judged so far. */
export interface PlanState {
  /** With every default filled in (as ReleasePlanStarted records it). */
  plan: ReleasePlan;
  startedAt: string;
  /** 0 until the first step starts, then 1, 2... */
  step: number;
  stepStartedAt: string;
  /** Windows in a row of the current step without enough requests to judge. */
  inconclusive: number;
  measurements: ReleaseStepMeasured[];
}

/** How the last canary ended. */
export interface ReleaseOutcomeState {
  version: number;
  outcome: "promoted" | "aborted";
  cause: string;
  reason: string;
  at: string;
  measurements: ReleaseStepMeasured[];
}

export interface MirrorState {
  target: string;
  targetVersion: number;
  ratio: number;
  since: string;
}

/**
 * What a service's stream says about its traffic beyond the stable version: the canary, the plan driving it,
 * the versions withdrawn (aborted canaries: never routed again unless they become current or a canary again),
 * the last release's outcome and the mirror. Plain data (a projection snapshots it as JSON).
 */
export interface TrafficState {
  canary?: CanaryState;
  plan?: PlanState;
  withdrawn: number[];
  last?: ReleaseOutcomeState;
  mirror?: MirrorState;
}

export const NO_TRAFFIC: TrafficState = { withdrawn: [] };

/** The events of a service's stream that {@link evolveTraffic} folds. */
export type TrafficEvent =
  | EventOf<"eas.v1.CanaryStarted">
  | EventOf<"eas.v1.CanaryWeightChanged">
  | EventOf<"eas.v1.CanaryPromoted">
  | EventOf<"eas.v1.CanaryAborted">
  | EventOf<"eas.v1.ReleasePlanStarted">
  | EventOf<"eas.v1.ReleaseStepStarted">
  | EventOf<"eas.v1.ReleaseStepMeasured">
  | EventOf<"eas.v1.MirrorSet">
  | EventOf<"eas.v1.MirrorRemoved">
  | EventOf<"eas.v1.ServiceRolledBack">;

const without = (versions: number[], version: number) => (versions.includes(version) ? versions.filter((v) => v !== version) : versions);

/** Folds one traffic event: the one fold the Service decider and the deployer's view share. */
export function evolveTraffic(state: TrafficState, e: TrafficEvent): TrafficState {
  switch (e.type) {
    case "eas.v1.CanaryStarted": {
      const { version, weight, replicas, cause, at } = e.data;
      const { plan: _plan, ...rest } = state;
      return { ...rest, canary: { version, weight, replicas, cause, startedAt: at }, withdrawn: without(state.withdrawn, version) };
    }
    case "eas.v1.CanaryWeightChanged":
      return state.canary ? { ...state, canary: { ...state.canary, weight: e.data.toWeight, replicas: e.data.replicas } } : state;
    case "eas.v1.ReleasePlanStarted":
      return {
        ...state,
        plan: { plan: e.data.plan!, startedAt: e.data.at, step: 0, stepStartedAt: "", inconclusive: 0, measurements: [] },
      };
    case "eas.v1.ReleaseStepStarted":
      return state.plan ? { ...state, plan: { ...state.plan, step: e.data.step, stepStartedAt: e.data.at, inconclusive: 0 } } : state;
    case "eas.v1.ReleaseStepMeasured": {
      const plan = state.plan;
      if (!plan) return state;
      const inconclusive = e.data.verdict === "inconclusive" ? plan.inconclusive + 1 : 0;
      return { ...state, plan: { ...plan, inconclusive, measurements: [...plan.measurements, e.data] } };
    }
    case "eas.v1.CanaryPromoted":
    case "eas.v1.CanaryAborted": {
      const promoted = e.type === "eas.v1.CanaryPromoted";
      const version = promoted ? e.data.toVersion : e.data.version;
      const { canary: _canary, plan: _plan, ...rest } = state;
      return {
        ...rest,
        withdrawn: promoted ? without(state.withdrawn, version) : [...without(state.withdrawn, version), version],
        last: {
          version,
          outcome: promoted ? "promoted" : "aborted",
          cause: e.data.cause,
          reason: e.data.reason,
          at: e.data.at,
          measurements: state.plan?.measurements ?? [],
        },
      };
    }
    case "eas.v1.ServiceRolledBack":
      return { ...state, withdrawn: without(state.withdrawn, e.data.toVersion) };
    case "eas.v1.MirrorSet":
      return {
        ...state,
        mirror: { target: e.data.target, targetVersion: e.data.targetVersion, ratio: e.data.ratio, since: e.data.at },
      };
    case "eas.v1.MirrorRemoved": {
      const { mirror: _mirror, ...rest } = state;
      return rest;
    }
  }
}

const TRAFFIC_TYPES = new Set<string>([
  "eas.v1.CanaryStarted",
  "eas.v1.CanaryWeightChanged",
  "eas.v1.CanaryPromoted",
  "eas.v1.CanaryAborted",
  "eas.v1.ReleasePlanStarted",
  "eas.v1.ReleaseStepStarted",
  "eas.v1.ReleaseStepMeasured",
  "eas.v1.MirrorSet",
  "eas.v1.MirrorRemoved",
  "eas.v1.ServiceRolledBack",
]);

export function isTrafficEvent(e: { type: string }): e is TrafficEvent {
  return TRAFFIC_TYPES.has(e.type);
}

/**
 * Instances the canary wants: the count asked for, or, following the weight, max(1, ceil(replicas x weight / 100))
 * so that a canary at 10 % of 4 replicas runs 1 and at 50 % runs 2. A service scaled to zero (or stopped) runs none.
 */
export function canaryReplicaCount(serviceReplicas: number, canary: Pick<CanaryState, "weight" | "replicas">): number {
  if (serviceReplicas === 0) return 0;
  if (canary.replicas > 0) return canary.replicas;
  return Math.max(1, Math.ceil((serviceReplicas * canary.weight) / 100));
}

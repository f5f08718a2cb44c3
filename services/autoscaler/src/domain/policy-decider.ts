import { NotFoundError, PreconditionFailedError, type Decider } from "@eas/decider";
import { event, type EventOf } from "@eas/events";
import type { MetricReading } from "@eas/proto";
import type { ScaleMode } from "./decide-scale.js";
import type { ResolvedPolicy } from "./policy.js";

/** Commands on a service's autoscaling stream ("autoscaler-<service>"). Time arrives with the command. */
export type PolicyCommand =
  | { type: "SetPolicy"; service: string; policy: ResolvedPolicy; now: string }
  | { type: "DeletePolicy"; service: string; now: string }
  | {
      type: "RecordDecision";
      service: string;
      from: number;
      to: number;
      mode: ScaleMode | "cron";
      reason: string;
      inputs: MetricReading[];
      ready: number;
      now: string;
    };

export type PolicyEvent =
  EventOf<"eas.v1.AutoscalerPolicySet"> | EventOf<"eas.v1.AutoscalerPolicyDeleted"> | EventOf<"eas.v1.ScaleDecided">;

export type PolicyState = { policy: ResolvedPolicy | undefined; setAt: string };

const samePolicy = (a: ResolvedPolicy, b: ResolvedPolicy) => (Object.keys(a) as (keyof ResolvedPolicy)[]).every((key) => a[key] === b[key]);

function decide(command: PolicyCommand, state: PolicyState): PolicyEvent[] {
  switch (command.type) {
    case "SetPolicy":
      // The same policy again (a retried call) writes nothing.
      if (state.policy && samePolicy(state.policy, command.policy)) return [];
      return [event("AutoscalerPolicySet", { service: command.service, policy: command.policy, setAt: command.now })];
    case "DeletePolicy":
      if (!state.policy) throw new NotFoundError("autoscaling policy of service", command.service);
      return [event("AutoscalerPolicyDeleted", { service: command.service, deletedAt: command.now })];
    case "RecordDecision":
      // A decision made on a policy that was deleted meanwhile is not recorded (nor applied).
      if (!state.policy) throw new PreconditionFailedError(`service ${command.service} has no autoscaling policy any more`);
      return [
        event("ScaleDecided", {
          service: command.service,
          fromReplicas: command.from,
          toReplicas: command.to,
          mode: command.mode,
          reason: command.reason,
          inputs: command.inputs,
          readyInstances: command.ready,
          decidedAt: command.now,
        }),
      ];
  }
}

function evolve(state: PolicyState, e: PolicyEvent): PolicyState {
  switch (e.type) {
    case "eas.v1.AutoscalerPolicySet":
      return { policy: e.data.policy as ResolvedPolicy, setAt: e.data.setAt };
    case "eas.v1.AutoscalerPolicyDeleted":
      return { policy: undefined, setAt: "" };
    default:
      return state;
  }
}

/** A service's autoscaling policy and the decisions made under it. */
export const policyDecider: Decider<PolicyCommand, PolicyEvent, PolicyState> = {
  decide,
  evolve,
  initialState: () => ({ policy: undefined, setAt: "" }),
};

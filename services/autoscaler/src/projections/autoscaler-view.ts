import type { RecordedEvent } from "@eas/event-store";
import { decodeEvent, StreamCategory } from "@eas/events";
import {
  absentInstance,
  evolveInstance,
  hasEnded,
  InstancePhase,
  isInstanceEvent,
  isRoutable,
  type InstanceLifecycle,
} from "@eas/instance-lifecycle";
import type { Projection } from "@eas/projections";
import type { CronScaleJob, ScaleDecided } from "@eas/proto";
import type { ResolvedPolicy } from "../domain/policy.js";

export interface CronRunView {
  scheduledAt: string;
  ranAt: string;
  state: string;
  message: string;
  targetSize: number;
}

export interface CronView {
  jobs: CronScaleJob[];
  excludeDates: string[];
  setAt: string;
  /** The latest run of each job, by name. */
  runs: Record<string, CronRunView>;
}

/** One service as the autoscaler needs it. */
export interface ScaledService {
  stopped: boolean;
  /** The replica count the deployer holds (ServiceCreated, ServiceUpdated, ServiceScaled). */
  desiredReplicas: number;
  /** CPU cores an instance of the current version requests (metadata.cpu). */
  cpuCores: number;
  /** Live instances, folded with the shared lifecycle fold. */
  instances: Record<string, InstanceLifecycle>;
  policy: ResolvedPolicy | undefined;
  policySetAt: string;
  lastDecision: ScaleDecided | undefined;
  cron: CronView | undefined;
}

/** Every service of the log, with its policy, scheduled jobs and instances. Deleting a service drops its policy and jobs. */
export type AutoscalerView = Record<string, ScaledService>;

const coresOf = (millis: number | undefined, fallback: number) => (millis ? millis / 1000 : fallback);

function update(state: AutoscalerView, service: string, change: (s: ScaledService) => ScaledService): AutoscalerView {
  const known = state[service];
  return known ? { ...state, [service]: change(known) } : state;
}

/** The autoscaler's read model: services, their Ready instances, policies, decisions and cron jobs. */
export const autoscalerViewProjection: Projection<AutoscalerView> = {
  name: "autoscaler-view",
  version: 1,
  categories: [StreamCategory.service, StreamCategory.instance, StreamCategory.autoscaler, StreamCategory.cronscale],
  initialState: () => ({}),
  evolve(state: AutoscalerView, recorded: RecordedEvent): AutoscalerView {
    const e = decodeEvent(recorded);
    if (!e) return state;
    if (isInstanceEvent(e)) {
      return update(state, e.data.service, (known) => {
        const before = known.instances[e.data.instanceId] ?? absentInstance(e.data.instanceId);
        const after = evolveInstance(before, e);
        if (after === before) return known;
        const { [e.data.instanceId]: _old, ...others } = known.instances;
        return { ...known, instances: hasEnded(after.phase) ? others : { ...others, [e.data.instanceId]: after } };
      });
    }
    switch (e.type) {
      case "eas.v1.ServiceCreated":
        return {
          ...state,
          [e.data.name]: {
            stopped: false,
            desiredReplicas: e.data.spec?.instance ?? 0,
            cpuCores: coresOf(e.data.spec?.resources?.cpuMillis, 1),
            instances: {},
            policy: undefined,
            policySetAt: "",
            lastDecision: undefined,
            cron: undefined,
          },
        };
      case "eas.v1.ServiceUpdated":
        return update(state, e.data.name, (s) => ({
          ...s,
          desiredReplicas: e.data.spec?.instance ?? s.desiredReplicas,
          cpuCores: coresOf(e.data.spec?.resources?.cpuMillis, s.cpuCores),
        }));
      case "eas.v1.ServiceScaled":
        return update(state, e.data.name, (s) => ({ ...s, desiredReplicas: e.data.toReplicas }));
      case "eas.v1.ServiceStopped":
      case "eas.v1.ServiceStarted":
        return update(state, e.data.name, (s) => ({ ...s, stopped: e.type === "eas.v1.ServiceStopped" }));
      case "eas.v1.ServiceDeleted": {
        const { [e.data.name]: _gone, ...rest } = state;
        return rest;
      }
      case "eas.v1.AutoscalerPolicySet":
        return update(state, e.data.service, (s) => ({ ...s, policy: e.data.policy as ResolvedPolicy, policySetAt: e.data.setAt }));
      case "eas.v1.AutoscalerPolicyDeleted":
        return update(state, e.data.service, (s) => ({ ...s, policy: undefined, policySetAt: "" }));
      case "eas.v1.ScaleDecided":
        return update(state, e.data.service, (s) => ({ ...s, lastDecision: e.data }));
      case "eas.v1.CronScaleJobsSet":
        return update(state, e.data.service, (s) => {
          const names = new Set(e.data.jobs.map((job) => job.name));
          const runs = Object.fromEntries(Object.entries(s.cron?.runs ?? {}).filter(([name]) => names.has(name)));
          return { ...s, cron: { jobs: e.data.jobs, excludeDates: e.data.excludeDates, setAt: e.data.setAt, runs } };
        });
      case "eas.v1.CronScaleJobsDeleted":
        return update(state, e.data.service, (s) => ({ ...s, cron: undefined }));
      case "eas.v1.CronScaleJobRan":
        return update(state, e.data.service, (s) =>
          s.cron
            ? {
                ...s,
                cron: {
                  ...s.cron,
                  runs: {
                    ...s.cron.runs,
                    [e.data.job]: {
                      scheduledAt: e.data.scheduledAt,
                      ranAt: e.data.ranAt,
                      state: e.data.state,
                      message: e.data.message,
                      targetSize: e.data.targetSize,
                    },
                  },
                },
              }
            : s,
        );
      default:
        return state;
    }
  },
};

/** Instances that serve: Ready ones, and those Ready when their node was lost (the gateway still routes to them). */
export function readyCount(service: ScaledService): number {
  let ready = 0;
  for (const instance of Object.values(service.instances)) if (isRoutable(instance)) ready++;
  return ready;
}

export function isReady(service: ScaledService | undefined, instanceId: string): boolean {
  return service?.instances[instanceId]?.phase === InstancePhase.Ready;
}

/** The floor the latest successful cron run set while a policy applies (0: none). */
export function cronFloor(service: ScaledService): number {
  let latest: CronRunView | undefined;
  for (const run of Object.values(service.cron?.runs ?? {})) {
    if (run.state !== "Succeeded") continue;
    if (!latest || run.scheduledAt > latest.scheduledAt) latest = run;
  }
  return latest?.targetSize ?? 0;
}

import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { NotFoundError, ValidationError, type FieldViolation } from "@eas/decider";
import type { ProjectionRunner } from "@eas/projections";
import type { AutoscalerServer, CronInfo, PolicyInfo, ScalingPolicy } from "@eas/proto";
import { unary } from "@eas/service-kit";
import type { Logger } from "@eas/telemetry";
import type { CronCommand } from "../domain/cron-decider.js";
import { cronJobViolations, nextRunAfter } from "../domain/cron-schedule.js";
import { parseEasAutoscalerJson } from "../domain/eas-json.js";
import type { PolicyCommand } from "../domain/policy-decider.js";
import { resolvePolicy } from "../domain/policy.js";
import { cronFloor, readyCount, type AutoscalerView, type ScaledService } from "../projections/autoscaler-view.js";
import type { ScalingSnapshot } from "../control/scaler.js";

export interface AutoscalerApiDeps {
  view: ProjectionRunner<AutoscalerView>;
  /** Runs a command on the service's streams; resolves with the log position reached (undefined: nothing written). */
  executePolicy(service: string, command: PolicyCommand): Promise<number | undefined>;
  executeCron(service: string, command: CronCommand): Promise<number | undefined>;
  snapshot(service: string): ScalingSnapshot;
  current(service: string): number | undefined;
  logger: Logger;
  now: () => Date;
}

/** The Autoscaler gRPC API: validates, writes through the deciders, answers from the read model. */
export function createAutoscalerApi(deps: AutoscalerApiDeps): AutoscalerServer {
  const { view, logger } = deps;

  const serviceViolations = (service: string): FieldViolation[] => {
    if (!service) return [{ path: "service", message: "is required" }];
    return view.state[service] ? [] : [{ path: "service", message: `unknown service "${service}"` }];
  };
  const known = (service: string): ScaledService => {
    if (!service) throw new ValidationError([{ path: "service", message: "is required" }]);
    const scaled = view.state[service];
    if (!scaled) throw new ValidationError([{ path: "service", message: `unknown service "${service}"` }]);
    return scaled;
  };
  const settle = async (position: number | undefined) => {
    if (position !== undefined) await view.waitForPosition(position);
  };

  const policyInfo = (service: string): PolicyInfo => {
    const scaled = view.state[service];
    if (!scaled?.policy) throw new NotFoundError("autoscaling policy of service", service);
    const snapshot = deps.snapshot(service);
    return {
      service,
      policy: scaled.policy,
      setAt: scaled.policySetAt,
      status: {
        desiredReplicas: deps.current(service) ?? scaled.desiredReplicas,
        readyInstances: readyCount(scaled),
        mode: snapshot.mode,
        readings: snapshot.readings,
        lastDecision: scaled.lastDecision,
        cronFloor: cronFloor(scaled),
      },
    };
  };

  const cronInfo = (service: string): CronInfo => {
    const scaled = view.state[service];
    if (!scaled?.cron) throw new NotFoundError("scheduled scaling jobs of service", service);
    const now = deps.now();
    const cron = scaled.cron;
    return {
      service,
      excludeDates: cron.excludeDates,
      setAt: cron.setAt,
      jobs: cron.jobs.map((job) => {
        const run = cron.runs[job.name];
        return {
          job,
          state: run?.state ?? "Waiting",
          message: run?.message ?? "",
          lastScheduledAt: run?.scheduledAt ?? "",
          lastRunAt: run?.ranAt ?? "",
          nextRunAt: nextRunAfter(job, now)?.toISOString() ?? "",
        };
      }),
    };
  };

  const requestedPolicy = (policy: ScalingPolicy | undefined, easJson: string): ScalingPolicy => {
    if (policy && easJson) {
      throw new ValidationError([{ path: "eas_json", message: "send either policy or eas_json, not both" }]);
    }
    if (easJson) {
      const parsed = parseEasAutoscalerJson(easJson);
      if (!parsed.ok) throw new ValidationError(parsed.violations);
      return parsed.policy;
    }
    if (!policy) throw new ValidationError([{ path: "policy", message: "is required (or eas_json)" }]);
    return policy;
  };

  return {
    setPolicy: unary(logger, async (request) => {
      // Every bad field at once: the service and the policy alike.
      const violations = serviceViolations(request.service);
      let asked: ScalingPolicy | undefined;
      try {
        asked = requestedPolicy(request.policy, request.easJson);
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        violations.push(...error.violations);
      }
      const resolved = asked ? resolvePolicy(asked, request.easJson ? "eas_json" : "policy") : undefined;
      if (resolved && !resolved.ok) violations.push(...resolved.violations);
      if (violations.length > 0 || !resolved?.ok) throw new ValidationError(violations);
      const position = await deps.executePolicy(request.service, {
        type: "SetPolicy",
        service: request.service,
        policy: resolved.policy,
        now: deps.now().toISOString(),
      });
      await settle(position);
      return policyInfo(request.service);
    }),
    getPolicy: unary(logger, async (request) => {
      known(request.service);
      return policyInfo(request.service);
    }),
    deletePolicy: unary(logger, async (request) => {
      known(request.service);
      const before = policyInfo(request.service);
      await settle(
        await deps.executePolicy(request.service, { type: "DeletePolicy", service: request.service, now: deps.now().toISOString() }),
      );
      return before;
    }),
    listPolicies: unary(logger, async () => ({
      policies: Object.keys(view.state)
        .filter((service) => view.state[service]!.policy)
        .sort()
        .map(policyInfo),
    })),
    setCronJobs: unary(logger, async (request) => {
      const violations = serviceViolations(request.service);
      violations.push(...cronJobViolations(request.jobs, request.excludeDates));
      if (violations.length > 0) throw new ValidationError(violations);
      const jobs = request.jobs.map((job) => ({
        ...job,
        schedule: job.schedule.trim().split(/\s+/).join(" "),
        timeZone: job.timeZone || "UTC",
      }));
      const position = await deps.executeCron(request.service, {
        type: "SetCronJobs",
        service: request.service,
        jobs,
        excludeDates: request.excludeDates,
        now: deps.now().toISOString(),
      });
      await settle(position);
      return cronInfo(request.service);
    }),
    getCronJobs: unary(logger, async (request) => {
      known(request.service);
      return cronInfo(request.service);
    }),
    deleteCronJobs: unary(logger, async (request) => {
      known(request.service);
      const before = cronInfo(request.service);
      await settle(
        await deps.executeCron(request.service, { type: "DeleteCronJobs", service: request.service, now: deps.now().toISOString() }),
      );
      return before;
    }),
  } satisfies AutoscalerServer & UntypedServiceImplementation;
}

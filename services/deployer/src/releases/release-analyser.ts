import type { EventStore } from "@eas/event-store";
import { serviceStream } from "@eas/events";
import { InstancePhase } from "@eas/instance-lifecycle";
import type { ProjectionRunner } from "@eas/projections";
import type { QuerySeriesRequest, QuerySeriesResponse } from "@eas/proto";
import { executeCommand } from "@eas/service-kit";
import type { Logger } from "@eas/telemetry";
import { measureWindow, nextAnalysisAction, windowQuery } from "../domain/release-analysis.js";
import { planGates } from "../domain/release-plan.js";
import { serviceDecider, type ServiceCommand } from "../domain/service-decider.js";
import type { ServiceView, ServiceViews } from "../projections/service-views.js";
import { notReadyReason } from "../projections/status.js";

/** The part of the monitor's API the analyser reads: a service's series over a window. */
export type QuerySeries = (request: QuerySeriesRequest) => Promise<QuerySeriesResponse>;

export interface ReleaseAnalyserDeps {
  store: EventStore;
  views: ProjectionRunner<ServiceViews>;
  querySeries: QuerySeries;
  logger: Logger;
  source: string;
  now?: () => number;
  intervalMs?: number;
}

export interface ReleaseAnalyser {
  /** One pass over every service a release plan drives. */
  analyseOnce(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Drives release plans: each pass reads every plan from the read model (rebuilt from the log, so a restarted
 * deployer resumes where the log says the plan was), asks {@link nextAnalysisAction} what is due, and records it
 * through the Service decider: the first step once the canary is Ready, a judged window (ReleaseStepMeasured, then
 * the next step, the promotion or the rollback), or a rollback when the canary never became Ready. A window the
 * monitor has not closed yet, or a monitor that does not answer, is asked again at the next pass.
 */
export function startReleaseAnalyser(deps: ReleaseAnalyserDeps): ReleaseAnalyser {
  const { store, views, logger } = deps;
  const now = deps.now ?? Date.now;
  const busy = new Map<string, Promise<void>>();
  let stopped = false;

  const record = (command: ServiceCommand & { name: string }) =>
    executeCommand({ store, stream: serviceStream(command.name), decider: serviceDecider, command, source: deps.source });

  const analyse = async (view: ServiceView): Promise<void> => {
    const { canary, plan } = view.traffic;
    if (!canary || !plan || view.deleted) return;
    const ready = Object.values(view.instances).filter((i) => i.version === canary.version && i.phase === InstancePhase.Ready).length;
    const nowMs = now();
    const action = nextAnalysisAction({
      plan,
      canary,
      canaryReady: ready,
      canaryNotReadyReason: ready > 0 ? "" : notReadyReason(view, canary.version),
      nowMs,
    });
    const at = new Date(nowMs).toISOString();
    const { name } = view;
    switch (action.kind) {
      case "wait":
        return;
      case "start-first-step":
        await record({ type: "StartFirstStep", name, version: canary.version, now: at });
        return;
      case "abort":
        logger.warn({ service: name, version: canary.version, reason: action.reason }, "release plan rolls the canary back");
        await record({ type: "AbortCanary", name, cause: "release plan", reason: action.reason, now: at });
        return;
      case "judge": {
        const answer = await deps.querySeries(windowQuery(name, action.windowFromMs, action.windowToMs));
        const versions = { canary: canary.version, stable: view.currentVersion };
        const measured = measureWindow(answer, action, versions, planGates(plan.plan), plan.inconclusive);
        if (!measured) return;
        logger.info(
          { service: name, step: action.step, verdict: measured.verdict, canary: measured.canary, stable: measured.stable },
          "release window judged",
        );
        await record({
          type: "RecordStepMeasurement",
          name,
          version: canary.version,
          step: action.step,
          windowFrom: new Date(action.windowFromMs).toISOString(),
          windowTo: new Date(action.windowToMs).toISOString(),
          canary: measured.canary,
          stable: measured.stable,
          gates: measured.gates,
          verdict: measured.verdict,
          now: at,
        });
        return;
      }
    }
  };

  const analyseOnce = async (): Promise<void> => {
    if (stopped) return;
    const started: Promise<void>[] = [];
    for (const view of Object.values(views.state)) {
      if (!view.traffic.plan || busy.has(view.name)) continue;
      const task = analyse(view)
        .catch((error: unknown) => logger.warn({ err: error, service: view.name }, "release analysis failed; will retry"))
        .finally(() => busy.delete(view.name));
      busy.set(view.name, task);
      started.push(task);
    }
    await Promise.all(started);
  };

  const timer = setInterval(() => void analyseOnce(), deps.intervalMs ?? 500);
  return {
    analyseOnce,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all(busy.values());
    },
  };
}

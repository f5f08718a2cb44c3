import type { Bus, BusSubscription } from "@eas/bus";
import { stressControl, stressReports } from "@eas/metrics";
import type {
  StressPoint,
  StressStep,
  StressSummary,
  StressTarget,
  StressTaskInfo,
  StressTaskSpec,
  StressUpdate,
  StressWorkerControl,
  StressWorkerReport,
} from "@eas/proto";
import type { Logger } from "@eas/telemetry";
import { firstLoad, nextLoad, verdictOf, errorRatio, type PlanDecision, type StepLoad } from "../domain/load-plan.js";
import type { StressCommand, EndStatus } from "../domain/stress-decider.js";
import { TaskStatus } from "../domain/stress-decider.js";
import { periodAt, TaskSeconds, type LoadPeriod } from "../domain/task-seconds.js";
import type { DeployerPort } from "./deployer-client.js";
import { resolveTarget, workerServiceSpec, type TaskSecrets } from "./target.js";

/** What every task runner shares: the process's bus, the deployer, the log, the clock. */
export interface RunnerContext {
  bus: Bus;
  deployer: DeployerPort;
  /** Runs a command on the task's stream; returns the log position it reached. */
  execute(taskId: string, command: StressCommand): Promise<number | undefined>;
  /** The task as the log knows it now. */
  taskInfo(taskId: string): StressTaskInfo | undefined;
  /** Builds and stores the report; returns where it is ("" when it could not be stored). */
  writeReport(info: StressTaskInfo, points: readonly StressPoint[]): Promise<{ htmlUrl: string; jsonUrl: string }>;
  gatewayUrl: string;
  workerNatsUrl: string;
  workerCpu: number;
  workerMemoryMib: number;
  workerStartTimeoutMs: number;
  logger: Logger;
  now(): number;
}

interface CurrentStep {
  index: number;
  fromMs: number;
  toMs: number;
  load: StepLoad;
}

/** How long after a second ends it is closed: the time the workers' reports have to arrive. */
const FINALIZE_DELAY_MS = 500;
const TICK_MS = 200;
/** A running task whose workers all fell silent this long has lost them. */
const WORKERS_SILENT_MS = 5_000;
/** After the end, how long the requests still in flight may take before the workers are stopped. */
const MAX_DRAIN_MS = 10_000;

const wholeSecondAfter = (ms: number) => Math.ceil(ms / 1000) * 1000;

/**
 * Runs one stress task: starts its load workers through the deployer (an internal service of the
 * loadgen processor, `agentCount` instances), sends them their control every few hundred milliseconds
 * (target, the load in force, the end, or stop), merges their per-second reports into points, closes
 * steps and asks the load plan what comes next, and at the end writes the report and deletes the workers.
 */
export class TaskRunner {
  readonly taskId: string;
  readonly #context: RunnerContext;
  readonly #spec: StressTaskSpec;
  readonly #secrets: TaskSecrets;
  readonly #workerService: string;
  readonly #seconds = new TaskSeconds();
  readonly #points: StressPoint[] = [];
  readonly #listeners = new Set<(update: StressUpdate) => void>();
  readonly #workers = new Map<string, { state: string; error: string; seenAt: number }>();
  readonly #periods: LoadPeriod[] = [];
  readonly #steps: StressStep[] = [];
  #control: StressWorkerControl;
  #current: CurrentStep | undefined;
  #loadFromMs = 0;
  #endAtMs = 0;
  #stopAsked: string | undefined;
  #result: { kneeQps?: number; limitQps?: number; limitReason?: string } = {};
  #subscription: BusSubscription | undefined;
  #timer: NodeJS.Timeout | undefined;
  readonly done: Promise<void>;
  #resolveDone!: () => void;

  constructor(context: RunnerContext, taskId: string, spec: StressTaskSpec, secrets: TaskSecrets, workerService: string) {
    this.#context = context;
    this.taskId = taskId;
    this.#spec = spec;
    this.#secrets = secrets;
    this.#workerService = workerService;
    this.#control = { taskId, sentAtMs: 0, stop: false, endAtMs: 0, target: undefined, workerIds: [], load: undefined };
    this.done = new Promise((resolve) => (this.#resolveDone = resolve));
  }

  /** Every per-second point so far. */
  get points(): readonly StressPoint[] {
    return this.#points;
  }

  /** Calls `listener` with each point and each change of the task; returns the unsubscribe. */
  watch(listener: (update: StressUpdate) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  start(): void {
    void this.#run().then(
      () => this.#resolveDone(),
      (error: unknown) => {
        this.#context.logger.error({ err: error, task: this.taskId }, "stress task runner failed");
        this.#resolveDone();
      },
    );
  }

  /** Stops every worker now (the stop goes out before this returns); the runner then ends the task as Stopped. */
  requestStop(reason: string): void {
    this.#stopAsked ??= reason;
    this.#control = { ...this.#control, stop: true };
    this.#publishControl();
  }

  async #run(): Promise<void> {
    const { logger } = this.#context;
    this.#subscription = this.#context.bus.subscribe(stressReports.with(this.taskId), (report) => this.#onReport(report));
    let target: StressTarget;
    try {
      target = await resolveTarget(this.#context.deployer, this.#spec, this.#secrets, this.#context.gatewayUrl);
      await this.#context.deployer.createService(workerServiceSpec(this.taskId, this.#workerService, this.#spec, this.#context));
    } catch (error) {
      await this.#finish(TaskStatus.failed, `could not start the load workers: ${describeError(error)}`);
      return;
    }
    this.#control = { ...this.#control, target };
    logger.info({ task: this.taskId, service: this.#spec.serviceName, workers: this.#workerService }, "stress task starting");
    const startedWaiting = this.#context.now();
    await new Promise<void>((resolve) => {
      const tick = async () => {
        try {
          const outcome = await this.#tick(startedWaiting);
          if (outcome) {
            await this.#finish(outcome.status, outcome.reason);
            resolve();
            return;
          }
        } catch (error) {
          logger.error({ err: error, task: this.taskId }, "stress task tick failed");
        }
        this.#timer = setTimeout(() => void tick(), TICK_MS);
      };
      void tick();
    });
  }

  /** One pass of the loop; returns how the task ends once it does. */
  async #tick(startedWaiting: number): Promise<{ status: EndStatus; reason: string } | undefined> {
    const now = this.#context.now();
    if (this.#stopAsked !== undefined) return { status: TaskStatus.stopped, reason: this.#stopAsked };
    const failed = [...this.#workers.entries()].find(([, worker]) => worker.state === "failed");
    if (failed) return { status: TaskStatus.failed, reason: `load worker ${failed[0]} failed: ${failed[1].error}` };

    if (!this.#control.load) {
      const ready = [...this.#workers.entries()].filter(([, w]) => w.state === "ready").map(([id]) => id);
      if (ready.length >= this.#spec.agentCount) {
        await this.#startLoad(ready.sort().slice(0, this.#spec.agentCount), now);
      } else if (now - startedWaiting > this.#context.workerStartTimeoutMs) {
        return {
          status: TaskStatus.failed,
          reason: `only ${ready.length} of ${this.#spec.agentCount} load workers were ready after ${Math.round(this.#context.workerStartTimeoutMs / 1000)} s`,
        };
      }
      this.#publishControl();
      return undefined;
    }

    this.#publishControl();
    const closedThrough = now - FINALIZE_DELAY_MS;
    for (const second of this.#seconds.close(closedThrough)) {
      const point = this.#seconds.pointOf(second, periodAt(this.#periods, second.startMs));
      this.#points.push(point);
      this.#emit({ update: { $case: "point", value: point } });
    }
    while (this.#current && closedThrough >= this.#current.toMs) {
      const decision = await this.#completeStep(this.#current, now);
      if (decision.kind === "finish") {
        this.#result = {
          ...(decision.kneeQps !== undefined ? { kneeQps: decision.kneeQps } : {}),
          ...(decision.limitQps !== undefined ? { limitQps: decision.limitQps, limitReason: decision.limitReason } : {}),
        };
        this.#endAtMs = Math.min(this.#endAtMs, this.#current?.toMs ?? now);
        return { status: TaskStatus.completed, reason: decision.reason };
      }
    }
    const silent = [...this.#workers.values()].every((worker) => now - worker.seenAt > WORKERS_SILENT_MS);
    if (silent) return { status: TaskStatus.failed, reason: `the load workers stopped reporting for ${WORKERS_SILENT_MS / 1000} s` };
    if (now >= this.#endAtMs) {
      const drained = this.#control.workerIds.every((id) => this.#workers.get(id)?.state === "stopped");
      if (
        (drained && closedThrough >= this.#endAtMs) ||
        now >= this.#endAtMs + Math.min(this.#spec.timeoutMs, MAX_DRAIN_MS) + FINALIZE_DELAY_MS
      ) {
        return {
          status: TaskStatus.completed,
          reason: this.#spec.mode === "scan" || this.#spec.mode === "auto" ? `duration ended before a limit was found` : "",
        };
      }
    }
    return undefined;
  }

  async #startLoad(workerIds: string[], now: number): Promise<void> {
    this.#loadFromMs = wholeSecondAfter(now + 1000);
    this.#endAtMs = this.#loadFromMs + this.#spec.durationSeconds * 1000;
    const load = firstLoad(this.#spec);
    this.#current = this.#stepFrom(1, this.#loadFromMs, load);
    this.#periods.push({ fromMs: this.#loadFromMs, load, step: 1 });
    this.#control = { ...this.#control, workerIds, endAtMs: this.#endAtMs, load: this.#loadMessage(1, this.#loadFromMs, load) };
    this.#publishControl();
    await this.#context.execute(this.taskId, {
      type: "StartLoad",
      taskId: this.taskId,
      workerIds,
      loadStartsAtMs: this.#loadFromMs,
      now: new Date(now).toISOString(),
    });
    this.#emitTask();
    this.#context.logger.info({ task: this.taskId, workers: workerIds, loadFromMs: this.#loadFromMs }, "stress load starts");
  }

  #stepFrom(index: number, fromMs: number, load: StepLoad): CurrentStep {
    return { index, fromMs, toMs: Math.min(fromMs + this.#spec.adjustIntervalSeconds * 1000, this.#endAtMs), load };
  }

  #loadMessage(phase: number, fromMs: number, load: StepLoad): StressWorkerControl["load"] {
    return { phase, fromMs, rate: load.rate, closedLoop: load.closedLoop, concurrency: load.concurrency };
  }

  async #completeStep(current: CurrentStep, now: number): Promise<PlanDecision> {
    const figures = this.#seconds.figures(current.fromMs, current.toMs);
    const step: StressStep = {
      index: current.index,
      offeredQps: current.load.closedLoop ? 0 : current.load.rate,
      concurrency: current.load.closedLoop ? current.load.concurrency : 0,
      fromMs: current.fromMs,
      toMs: current.toMs,
      requests: figures.completed,
      achievedQps: figures.achievedQps,
      p50Ms: figures.p50Ms,
      p99Ms: figures.p99Ms,
      maxMs: figures.maxMs,
      errorRatio: errorRatio(figures),
      verdict: verdictOf(this.#spec, figures),
    };
    this.#steps.push(step);
    await this.#context.execute(this.taskId, { type: "CompleteStep", taskId: this.taskId, step });
    this.#emitTask();
    const decision = current.toMs >= this.#endAtMs ? ({ kind: "hold" } as const) : nextLoad(this.#spec, this.#steps);
    if (decision.kind === "finish") {
      this.#current = undefined;
      return decision;
    }
    if (current.toMs >= this.#endAtMs) {
      this.#current = undefined;
      return decision;
    }
    if (decision.kind === "hold") {
      this.#current = this.#stepFrom(current.index + 1, current.toMs, current.load);
      this.#periods.push({ fromMs: current.toMs, load: current.load, step: current.index + 1 });
      return decision;
    }
    // A new load starts on the next whole second the workers can hear of in time; the second between runs the old load, in no step.
    const fromMs = Math.max(current.toMs, wholeSecondAfter(now + 300));
    if (fromMs >= this.#endAtMs) {
      this.#current = undefined;
      return decision;
    }
    if (fromMs > current.toMs) this.#periods.push({ fromMs: current.toMs, load: current.load, step: 0 });
    this.#periods.push({ fromMs, load: decision.load, step: current.index + 1 });
    this.#current = this.#stepFrom(current.index + 1, fromMs, decision.load);
    const phase = (this.#control.load?.phase ?? 0) + 1;
    this.#control = { ...this.#control, load: this.#loadMessage(phase, fromMs, decision.load) };
    this.#publishControl();
    return decision;
  }

  async #finish(status: EndStatus, reason: string): Promise<void> {
    const now = this.#context.now();
    const stoppedEarly = now < this.#endAtMs;
    this.#control = { ...this.#control, stop: true };
    this.#publishControl();
    if (this.#timer) clearTimeout(this.#timer);
    const loadMs =
      this.#loadFromMs === 0 ? 0 : Math.max(0, (stoppedEarly ? Math.min(now, this.#endAtMs) : this.#endAtMs) - this.#loadFromMs);
    // Reports of the last seconds (and of the stop) arrive within a second.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    this.#publishControl();
    this.#subscription?.unsubscribe();
    for (const second of this.#seconds.close(Number.POSITIVE_INFINITY)) {
      const point = this.#seconds.pointOf(second, periodAt(this.#periods, second.startMs));
      this.#points.push(point);
      this.#emit({ update: { $case: "point", value: point } });
    }
    let summary: StressSummary | undefined;
    if (this.#loadFromMs > 0) {
      summary = {
        ...this.#seconds.summary(this.#loadFromMs, loadMs, this.#spec.mode === "concurrency"),
        ...this.#result,
        limitReason: this.#result.limitReason ?? "",
      };
    }
    try {
      await this.#context.deployer.deleteService(this.#workerService);
    } catch (error) {
      this.#context.logger.warn(
        { err: error, task: this.taskId, service: this.#workerService },
        "could not delete the load workers' service",
      );
    }
    const finishedAt = new Date(this.#context.now()).toISOString();
    const known = this.#context.taskInfo(this.taskId);
    let urls = { htmlUrl: "", jsonUrl: "" };
    if (known && summary) {
      try {
        urls = await this.#context.writeReport({ ...known, status, reason, summary, finishedAt, steps: this.#steps }, this.#points);
      } catch (error) {
        this.#context.logger.error({ err: error, task: this.taskId }, "could not store the stress report");
      }
    }
    await this.#context.execute(this.taskId, {
      type: "FinishTask",
      taskId: this.taskId,
      status,
      reason,
      summary,
      reportHtmlUrl: urls.htmlUrl,
      reportJsonUrl: urls.jsonUrl,
      now: finishedAt,
    });
    this.#context.logger.info(
      { task: this.taskId, status, reason, achievedQps: summary?.achievedQps, p99Ms: summary?.p99Ms },
      "stress task finished",
    );
    this.#emitTask({ status, reason, summary, finishedAt, reportHtmlUrl: urls.htmlUrl, reportJsonUrl: urls.jsonUrl });
  }

  #onReport(report: StressWorkerReport): void {
    this.#workers.set(report.workerId, { state: report.state, error: report.error, seenAt: this.#context.now() });
    // Only the measured seconds of the workers taking part count.
    if (this.#loadFromMs > 0 && report.startMs >= this.#loadFromMs - 1000 && this.#control.workerIds.includes(report.workerId)) {
      this.#seconds.add(report);
    }
  }

  #publishControl(): void {
    this.#context.bus.publish(stressControl.with(this.taskId), { ...this.#control, sentAtMs: this.#context.now() });
  }

  #emitTask(overrides: Partial<StressTaskInfo> = {}): void {
    const known = this.#context.taskInfo(this.taskId);
    if (!known) return;
    this.#emit({ update: { $case: "task", value: { ...known, steps: [...this.#steps], ...overrides } } });
  }

  #emit(update: StressUpdate): void {
    for (const listener of this.#listeners) listener(update);
  }
}

function describeError(error: unknown): string {
  const grpc = error as { details?: string; code?: number };
  if (typeof grpc.code === "number" && grpc.details) return grpc.details;
  return error instanceof Error ? error.message : String(error);
}

import type { StressPoint, StressTaskInfo, StressTaskSpec } from "@eas/proto";
import type { StressCommand } from "../domain/stress-decider.js";
import { isEnded, TaskStatus, type TaskStatus as Status } from "../domain/stress-decider.js";
import { TaskRunner, type RunnerContext } from "./task-runner.js";
import type { TaskSecrets } from "./target.js";

/**
 * The stress tasks this monitor runs: one {@link TaskRunner} each. Only one monitor runs at a time, so a
 * task that the log shows unfinished but that has no runner here was cut off by a restart: `recover`
 * ends it as Failed and removes its workers (which stopped sending on their own within 3 s of losing
 * their controller).
 */
export class StressController {
  readonly #context: RunnerContext;
  readonly #runners = new Map<string, TaskRunner>();

  constructor(context: RunnerContext) {
    this.#context = context;
  }

  start(taskId: string, spec: StressTaskSpec, secrets: TaskSecrets, workerService: string): TaskRunner {
    const runner = new TaskRunner(this.#context, taskId, spec, secrets, workerService);
    this.#runners.set(taskId, runner);
    void runner.done.then(() => this.#runners.delete(taskId));
    runner.start();
    return runner;
  }

  runner(taskId: string): TaskRunner | undefined {
    return this.#runners.get(taskId);
  }

  /** Stops a task: its workers within a second when it runs here; otherwise it is ended at once. */
  async stop(task: StressTaskInfo, reason: string): Promise<number | undefined> {
    const runner = this.#runners.get(task.id);
    runner?.requestStop(reason);
    const position = await this.#context.execute(task.id, { type: "RequestStop", taskId: task.id, reason, now: this.#nowIso() });
    if (!runner) await this.#endOrphan(task, TaskStatus.stopped, `${reason}; no load was running in this monitor`);
    return position;
  }

  /** Ends the tasks a previous monitor left unfinished. */
  async recover(tasks: readonly StressTaskInfo[]): Promise<void> {
    for (const task of tasks) {
      if (isEnded(task.status as Status) || this.#runners.has(task.id)) continue;
      try {
        await this.#endOrphan(task, TaskStatus.failed, "interrupted: the monitor restarted during the task");
      } catch (error) {
        this.#context.logger.error({ err: error, task: task.id }, "could not end an interrupted stress task");
      }
    }
  }

  /** Stops every running task (shutdown): workers stop within a second, reports are written. */
  async stopAll(reason: string): Promise<void> {
    const runners = [...this.#runners.values()];
    for (const runner of runners) runner.requestStop(reason);
    await Promise.all(runners.map((runner) => runner.done));
  }

  async #endOrphan(task: StressTaskInfo, status: typeof TaskStatus.failed | typeof TaskStatus.stopped, reason: string): Promise<void> {
    try {
      await this.#context.deployer.deleteService(task.workerService);
    } catch (error) {
      this.#context.logger.warn({ err: error, task: task.id }, "could not delete the load workers' service");
    }
    const command: StressCommand = {
      type: "FinishTask",
      taskId: task.id,
      status,
      reason,
      summary: undefined,
      reportHtmlUrl: "",
      reportJsonUrl: "",
      now: this.#nowIso(),
    };
    await this.#context.execute(task.id, command);
  }

  #nowIso(): string {
    return new Date(this.#context.now()).toISOString();
  }

  /** The points of a task running here. */
  points(taskId: string): readonly StressPoint[] | undefined {
    return this.#runners.get(taskId)?.points;
  }
}

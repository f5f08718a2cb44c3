import { groupPids, groupStats, terminateGroup } from "./process-group.js";
import {
  InstanceStatus,
  type InstanceHooks,
  type InstanceStatusEvent,
  type LogLine,
  type ProcessStats,
  type RunningInstance,
} from "./types.js";

export interface OrphanOptions {
  /** The process group (the instance's main process id, spawned as a group leader). */
  pgid: number;
  /** `http://host:port` it serves on, as its last Ready said. */
  endpoint: string;
  hooks: InstanceHooks;
  /** How often it is checked for life; default 1 s. */
  pollMs?: number;
  now?: () => number;
}

/**
 * An instance process a previous run of this agent started and left running (the agent crashed; instances
 * are group leaders and outlive it). The new run takes it over only to keep an eye on it and to stop it
 * gracefully once its replacement serves: it is not probed or restarted, and its output, which went to the
 * dead agent's pipes, is not read. It reports Failed if its process ends on its own, Stopped when stopped.
 */
export class OrphanInstance implements RunningInstance {
  readonly endpoint: string;
  readonly ended: Promise<void>;
  readonly restartCount = 0;
  readonly #pgid: number;
  readonly #hooks: InstanceHooks;
  readonly #now: () => number;
  #status: InstanceStatus = InstanceStatus.Ready;
  #stopping: Promise<void> | undefined;
  #end!: () => void;
  readonly #timer: NodeJS.Timeout;

  constructor(options: OrphanOptions) {
    this.#pgid = options.pgid;
    this.endpoint = options.endpoint;
    this.#hooks = options.hooks;
    this.#now = options.now ?? Date.now;
    this.ended = new Promise((resolve) => (this.#end = resolve));
    this.#timer = setInterval(() => void this.#check(), options.pollMs ?? 1_000);
  }

  get pid(): number | undefined {
    return this.#status === InstanceStatus.Ready ? this.#pgid : undefined;
  }

  get status(): InstanceStatus {
    return this.#status;
  }

  stop(gracePeriodMs = 10_000): Promise<void> {
    this.#stopping ??= (async () => {
      clearInterval(this.#timer);
      if (this.#status !== InstanceStatus.Ready) return;
      await terminateGroup(this.#pgid, gracePeriodMs);
      this.#finish({ status: InstanceStatus.Stopped, reason: "stopped" });
    })();
    return this.#stopping.then(() => this.ended);
  }

  stats(): Promise<ProcessStats> {
    return this.#status === InstanceStatus.Ready ? groupStats(this.#pgid) : Promise.resolve({ cpuPercent: 0, memoryBytes: 0 });
  }

  tail(): LogLine[] {
    return [];
  }

  async #check(): Promise<void> {
    if (this.#stopping || this.#status !== InstanceStatus.Ready) return;
    if ((await groupPids(this.#pgid)).length > 0 || this.#stopping) return;
    clearInterval(this.#timer);
    this.#finish({ status: InstanceStatus.Failed, reason: "its process ended after the agent restarted" });
  }

  #finish(event: Omit<InstanceStatusEvent, "restartCount" | "at">): void {
    this.#status = event.status;
    try {
      this.#hooks.onStatus({ ...event, restartCount: 0, at: this.#now() });
    } catch {
      // A hook's failure must not keep the instance from ending.
    }
    this.#end();
  }
}

/** How a probe checks an instance. Fully resolved: no field is left to a default. */
export interface ProbeConfig {
  /** "http": GET `path`, 2xx/3xx passes. "tcp": a connection is accepted. */
  kind: "http" | "tcp";
  /** Path for HTTP probes, starting with `/`. */
  path: string;
  /** Port probed on loopback; in the process driver always the instance port. */
  port: number;
  /** Wait after the process starts (readiness) or becomes Ready (liveness) before the first probe. */
  initialDelayMs: number;
  periodMs: number;
  /** A probe taking longer fails. */
  timeoutMs: number;
  /** Consecutive failures that flip a passing probe to failing. */
  failureThreshold: number;
}

/** What to run for one instance: the output of `resolveRuntime`, the input of a `RuntimeDriver`. */
export interface ResolvedCommand {
  /**
   * Without `args`: a shell command line, run with `/bin/sh -c`.
   * With `args`: an executable, run directly with those arguments.
   */
  command: string;
  args?: string[];
  /** Working folder of the process (the instance folder). */
  cwd: string;
  /** The complete environment of the process (nothing else is inherited). */
  env: Record<string, string>;
  /** The instance folder: logs go to `<instanceDir>/logs/`. */
  instanceDir: string;
  /** Port the process is told to listen on (`PORT`, `LISTENING_PORT`). */
  port: number;
  /** Gates "Ready"; after Ready, failing it marks the instance "Unhealthy" (no restart). */
  readiness: ProbeConfig;
  /** Failing it `failureThreshold` times in a row restarts the process. Runs once Ready. */
  liveness?: ProbeConfig;
}

/** Lifecycle states an instance reports (the `status` of `AgentInstance`). */
export const InstanceStatus = {
  Starting: "Starting",
  Ready: "Ready",
  Unhealthy: "Unhealthy",
  Exited: "Exited",
  Stopped: "Stopped",
  Failed: "Failed",
} as const;
export type InstanceStatus = (typeof InstanceStatus)[keyof typeof InstanceStatus];

/** One lifecycle transition, reported through `InstanceHooks.onStatus`. */
export interface InstanceStatusEvent {
  status: InstanceStatus;
  /** Why, in words fit for an event message ("process exited with code 1"). */
  reason?: string;
  /** Exit code of the process, for Exited, Stopped and Failed. */
  exitCode?: number | null;
  /** Signal that ended the process ("SIGKILL"), for Exited, Stopped and Failed. */
  signal?: string | null;
  /** Restarts so far (cumulative over the instance's life, like Kubernetes' restartCount). */
  restartCount: number;
  /** Process id, for Starting and Ready. */
  pid?: number;
  /** For Exited: the back-off before the next start. */
  restartInMs?: number;
  /** Epoch ms, from the driver's clock. */
  at: number;
}

/** Restart behaviour after a crash, a liveness failure or a start timeout. */
export interface RestartPolicy {
  /** First back-off; doubles with each consecutive restart. */
  baseMs: number;
  /** Largest back-off. */
  capMs: number;
  /** Ready this long without interruption, the back-off (and the consecutive count) starts over. */
  resetAfterMs: number;
  /** Consecutive restarts allowed before the instance is Failed; undefined = unlimited. */
  maxRestarts?: number;
  /** Restarts allowed to an instance that was never Ready before it is Failed; undefined = unlimited. */
  maxRestartsBeforeReady?: number;
}

/** CPU and memory of an instance: the sum over its process group. */
export interface ProcessStats {
  /** Percent of one core (200 = two cores busy). */
  cpuPercent: number;
  /** Resident memory in bytes. */
  memoryBytes: number;
}

/** One line of an instance's output, kept in memory for `tail()`. */
export interface LogLine {
  stream: "stdout" | "stderr";
  text: string;
  /** Epoch ms the line arrived. */
  at: number;
}

/** Callbacks a driver reports an instance's life through. */
export interface InstanceHooks {
  /** Every lifecycle transition, in order. Must not throw. */
  onStatus(event: InstanceStatusEvent): void;
}

/** An instance a driver started. */
export interface RunningInstance {
  /** Current process id; undefined between a crash and the restart, and once ended. */
  readonly pid: number | undefined;
  /** Where the instance serves: `http://<advertiseHost>:<port>`. */
  readonly endpoint: string;
  readonly status: InstanceStatus;
  readonly restartCount: number;
  /**
   * SIGTERM to the process group, SIGKILL to what is left after `gracePeriodMs`;
   * resolves once every process of the group is gone and Stopped was reported.
   * Cancels a pending restart. Calling it again returns the same promise; after
   * Failed it resolves at once.
   */
  stop(gracePeriodMs?: number): Promise<void>;
  /** CPU and memory of the process group; zeros when no process runs. */
  stats(): Promise<ProcessStats>;
  /** The last `lines` lines of stdout and stderr, oldest first. */
  tail(lines?: number): LogLine[];
  /** Resolves when the instance has ended for good (Stopped or Failed). */
  readonly ended: Promise<void>;
}

/** Runs instances: `process` today, container drivers later, behind this interface. */
export interface RuntimeDriver {
  start(resolved: ResolvedCommand, hooks: InstanceHooks): RunningInstance;
}

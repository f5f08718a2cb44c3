import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import { LogTail, readableLogLine } from "./log-tail.js";
import { groupStats } from "./process-group.js";
import { probeFailureReason, runProbeLoop, type ProbeObservation } from "./probe-loop.js";
import type { ProbeKind, ProbeOutcome } from "./probe-state.js";
import { reapExited, spawnProcess, terminateProcess, type ExitInfo, type RunEnd, type SpawnedProcess } from "./process-run.js";
import { DEFAULT_RESTART_POLICY, decideRestart } from "./restart-policy.js";
import {
  InstanceStatus,
  type InstanceHooks,
  type InstanceStatusEvent,
  type LogLine,
  type ProbeConfig,
  type ProcessStats,
  type ResolvedCommand,
  type RestartPolicy,
  type RunningInstance,
  type RuntimeDriver,
} from "./types.js";
import { sleep } from "./wait.js";

/** An exit reason quotes at most this much of the process's last output line. */
const LAST_WORDS_MAX = 200;

export interface ProcessDriverOptions {
  /** Host put in endpoints (`http://<advertiseHost>:<port>`); default 127.0.0.1. */
  advertiseHost?: string;
  /** Host probes connect to; default 127.0.0.1. */
  probeHost?: string;
  /** Restart back-off and limits; defaults: 1 s doubling to 30 s, reset after 60 s Ready, unlimited. */
  restartPolicy?: Partial<RestartPolicy>;
  /** Not Ready this long after a start: the process is killed and restarted (or Failed); default 120 s. */
  startTimeoutMs?: number;
  /**
   * Before its first Ready, a process that keeps answering its readiness probe with an error status for
   * this long is reported Unhealthy with that answer (a wrong probe path shows in seconds, not at the
   * start timeout); shorter answers are taken as a model still loading. Default 5 s.
   */
  startupAnswerReportMs?: number;
  /** Grace period of `stop()` called without one; default 30 s (Kubernetes' default). */
  defaultGracePeriodMs?: number;
  /** Grace between SIGTERM and SIGKILL when liveness or the start timeout kills a process; default 5 s. */
  killGracePeriodMs?: number;
  /** Lines of output kept in memory for `tail()`; default 1000. */
  tailLines?: number;
  /** Clock for event times and the back-off reset; default Date.now. */
  now?: () => number;
}

interface Defaults {
  advertiseHost: string;
  probeHost: string;
  restartPolicy: RestartPolicy;
  startTimeoutMs: number;
  startupAnswerReportMs: number;
  defaultGracePeriodMs: number;
  killGracePeriodMs: number;
  tailLines: number;
  now: () => number;
}

function withDefaults(options: ProcessDriverOptions): Defaults {
  return {
    advertiseHost: options.advertiseHost ?? "127.0.0.1",
    probeHost: options.probeHost ?? "127.0.0.1",
    restartPolicy: { ...DEFAULT_RESTART_POLICY, ...options.restartPolicy },
    startTimeoutMs: options.startTimeoutMs ?? 120_000,
    startupAnswerReportMs: options.startupAnswerReportMs ?? 5_000,
    defaultGracePeriodMs: options.defaultGracePeriodMs ?? 30_000,
    killGracePeriodMs: options.killGracePeriodMs ?? 5_000,
    tailLines: options.tailLines ?? 1_000,
    now: options.now ?? Date.now,
  };
}

/**
 * Runs instances as child processes, each in its own process group (spawned detached)
 * so that stopping it also ends whatever its `/bin/sh -c` started. Output is appended
 * to `<instanceDir>/logs/stdout.log` and `stderr.log`, so restarts keep the history.
 *
 * Note: instances outlive an agent that dies abruptly (they are session leaders); an
 * agent that restarts must find and stop them (their pids are in the events).
 */
export class ProcessDriver implements RuntimeDriver {
  readonly #options: Defaults;

  constructor(options: ProcessDriverOptions = {}) {
    this.#options = withDefaults(options);
  }

  start(resolved: ResolvedCommand, hooks: InstanceHooks): RunningInstance {
    return new ProcessInstance(resolved, hooks, this.#options);
  }
}

/** One spawned process and the supervision of its life. */
interface Run extends SpawnedProcess {
  /** When the run was spawned: its own output lines are those from then on. */
  spawnedAt: number;
  /** Aborted when the run ends: stops probe loops and in-flight probes. */
  abort: AbortController;
  tasks: Array<Promise<void>>;
  everReady: boolean;
  readySince: number | undefined;
  /** What the readiness probe saw last time it failed, for the reason of a start timeout. */
  lastReadinessFailure: string | undefined;
  /** Since when, before the first Ready, every probe got an error answer from the process; undefined otherwise. */
  answeringNotReadySince: number | undefined;
  /** Whether this run already reported that it answers but is not ready. */
  reportedNotReady: boolean;
  startTimer: NodeJS.Timeout | undefined;
}

class ProcessInstance implements RunningInstance {
  readonly endpoint: string;
  readonly ended: Promise<void>;
  readonly #resolved: ResolvedCommand;
  readonly #hooks: InstanceHooks;
  readonly #options: Defaults;
  readonly #tail: LogTail;
  readonly #stdout: WriteStream;
  readonly #stderr: WriteStream;
  #status: InstanceStatus = InstanceStatus.Starting;
  #restartCount = 0;
  #consecutive = 0;
  /** Some run of this instance was Ready. */
  #everReady = false;
  #run: Run | undefined;
  #stopGraceMs: number | undefined;
  readonly #backoff = new AbortController();

  constructor(resolved: ResolvedCommand, hooks: InstanceHooks, options: Defaults) {
    this.#resolved = resolved;
    this.#hooks = hooks;
    this.#options = options;
    this.endpoint = `http://${options.advertiseHost}:${resolved.port}`;
    this.#tail = new LogTail(options.tailLines);
    const logs = join(resolved.instanceDir, "logs");
    mkdirSync(logs, { recursive: true });
    this.#stdout = createWriteStream(join(logs, "stdout.log"), { flags: "a" });
    this.#stderr = createWriteStream(join(logs, "stderr.log"), { flags: "a" });
    // A full disk or a removed folder loses log lines; it must not crash the agent (tail() still works).
    this.#stdout.on("error", () => undefined);
    this.#stderr.on("error", () => undefined);
    this.ended = this.#supervise().catch((error: unknown) => {
      this.#emit({ status: InstanceStatus.Failed, reason: `agent error: ${String(error)}` });
    });
  }

  get pid(): number | undefined {
    const child = this.#run?.child;
    return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  get status(): InstanceStatus {
    return this.#status;
  }

  get restartCount(): number {
    return this.#restartCount;
  }

  stop(gracePeriodMs: number = this.#options.defaultGracePeriodMs): Promise<void> {
    if (this.#stopGraceMs === undefined) {
      this.#stopGraceMs = Math.max(0, gracePeriodMs);
      this.#run?.settle({ kind: "stop" });
      this.#backoff.abort();
    }
    return this.ended;
  }

  async stats(): Promise<ProcessStats> {
    const pgid = this.pid === undefined ? undefined : this.#run?.pgid;
    if (pgid === undefined) return { cpuPercent: 0, memoryBytes: 0 };
    return groupStats(pgid);
  }

  tail(lines?: number): LogLine[] {
    return this.#tail.lines(lines);
  }

  async #supervise(): Promise<void> {
    // Let start() return before the first status is reported.
    await Promise.resolve();
    try {
      for (;;) {
        if (this.#stopGraceMs !== undefined) {
          this.#emit({ status: InstanceStatus.Stopped, reason: "stopped before the process started" });
          return;
        }
        const run = this.#spawn();
        const end = await run.end;
        clearTimeout(run.startTimer);
        run.abort.abort();
        let exit: ExitInfo;
        if (end.kind === "exit") {
          exit = end;
          await reapExited(run);
        } else {
          const graceMs = end.kind === "stop" ? (this.#stopGraceMs ?? 0) : this.#options.killGracePeriodMs;
          exit = await terminateProcess(run, graceMs);
        }
        await Promise.all(run.tasks);
        this.#tail.flush(this.#options.now());
        const exitFields = { exitCode: exit.code, signal: exit.signal };
        if (this.#stopGraceMs !== undefined) {
          this.#emit({ status: InstanceStatus.Stopped, reason: "stopped", ...exitFields });
          return;
        }
        const reason = this.#describeEnd(end, exit, run);
        const readyForMs = run.readySince === undefined ? 0 : this.#options.now() - run.readySince;
        if (run.everReady) this.#everReady = true;
        const decision = decideRestart(this.#consecutive, readyForMs, this.#options.restartPolicy, this.#everReady);
        if (decision.action === "fail") {
          this.#emit({ status: InstanceStatus.Failed, reason: `${reason}; ${decision.reason}`, ...exitFields });
          return;
        }
        this.#consecutive = decision.consecutive;
        this.#emit({ status: InstanceStatus.Exited, reason, ...exitFields, restartInMs: decision.delayMs });
        if (!(await sleep(decision.delayMs, this.#backoff.signal))) {
          this.#emit({ status: InstanceStatus.Stopped, reason: "stopped during restart back-off", ...exitFields });
          return;
        }
        this.#restartCount++;
      }
    } finally {
      this.#tail.flush(this.#options.now());
      await Promise.all([closeStream(this.#stdout), closeStream(this.#stderr)]);
    }
  }

  #spawn(): Run {
    const spawned = spawnProcess(this.#resolved, (stream, chunk) => this.#output(stream, chunk));
    const run: Run = {
      ...spawned,
      spawnedAt: this.#options.now(),
      abort: new AbortController(),
      tasks: [],
      everReady: false,
      readySince: undefined,
      lastReadinessFailure: undefined,
      answeringNotReadySince: undefined,
      reportedNotReady: false,
      startTimer: undefined,
    };
    this.#run = run;
    this.#emit({ status: InstanceStatus.Starting, ...(run.child.pid === undefined ? {} : { pid: run.child.pid }) });
    run.startTimer = setTimeout(() => run.settle({ kind: "start-timeout" }), this.#options.startTimeoutMs);
    this.#startProbing(run, "readiness", this.#resolved.readiness);
    return run;
  }

  #output(stream: LogLine["stream"], chunk: Buffer): void {
    (stream === "stdout" ? this.#stdout : this.#stderr).write(chunk);
    this.#tail.push(stream, chunk.toString("utf8"), this.#options.now());
  }

  /** Reports, once per run, a process that keeps answering its readiness probe with an error before its first Ready. */
  #watchStartupAnswers(run: Run, outcome: ProbeOutcome, consecutiveFailures: number): void {
    if (!outcome.answered) {
      run.answeringNotReadySince = undefined;
      return;
    }
    const now = this.#options.now();
    run.answeringNotReadySince ??= now;
    if (run.reportedNotReady || now - run.answeringNotReadySince < this.#options.startupAnswerReportMs) return;
    run.reportedNotReady = true;
    this.#emit({
      status: InstanceStatus.Unhealthy,
      reason: `readiness probe failed ${consecutiveFailures} times in a row: the process answers ${outcome.detail}`,
    });
  }

  #startProbing(run: Run, kind: ProbeKind, probe: ProbeConfig): void {
    const loop = runProbeLoop(kind, probe, {
      host: this.#options.probeHost,
      signal: run.abort.signal,
      onObservation: (observation) => this.#onProbe(run, observation),
    });
    run.tasks.push(loop);
  }

  /** What a probe's verdict means for the run: readiness reports Ready and Unhealthy, liveness ends the run. */
  #onProbe(run: Run, { kind, outcome, state, transition }: ProbeObservation): "stop" | undefined {
    if (kind === "liveness") {
      if (transition !== "failed") return undefined;
      run.settle({ kind: "liveness", reason: probeFailureReason(kind, state) });
      return "stop";
    }
    if (!outcome.ok) run.lastReadinessFailure = state.lastFailure;
    if (!run.everReady) this.#watchStartupAnswers(run, outcome, state.consecutiveFailures);
    if (transition === "passed") {
      if (!run.everReady) {
        run.everReady = true;
        clearTimeout(run.startTimer);
        if (this.#resolved.liveness) this.#startProbing(run, "liveness", this.#resolved.liveness);
      }
      run.readySince = this.#options.now();
      this.#emit({ status: InstanceStatus.Ready, ...(run.child.pid === undefined ? {} : { pid: run.child.pid }) });
    } else if (transition === "failed") {
      run.readySince = undefined;
      this.#emit({ status: InstanceStatus.Unhealthy, reason: probeFailureReason(kind, state) });
    }
    return undefined;
  }

  #describeEnd(end: RunEnd, exit: ExitInfo, run: Run): string {
    switch (end.kind) {
      case "liveness":
        return end.reason;
      case "start-timeout": {
        const last = run.lastReadinessFailure ? ` (last: ${run.lastReadinessFailure})` : "";
        return `readiness probe did not pass within ${Number((this.#options.startTimeoutMs / 1000).toFixed(1))}s${last}`;
      }
      case "stop":
        return "stopped";
      case "exit":
        if (exit.error) return `cannot start: ${exit.error.message}`;
        if (exit.signal) return `process killed by ${exit.signal}${this.#lastWords(run)}`;
        return `process exited with code ${exit.code}${this.#lastWords(run)}`;
    }
  }

  /**
   * The run's last words for an exit reason, as `: "<line>"`: its last non-blank stderr line, or its last
   * stdout line when it wrote nothing on stderr (pino and many servers log errors to stdout); empty when silent.
   */
  #lastWords(run: Run): string {
    const own = this.#tail.lines().filter((l) => l.at >= run.spawnedAt && l.text.trim() !== "");
    const line = own.filter((l) => l.stream === "stderr").at(-1) ?? own.at(-1);
    if (!line) return "";
    const text = readableLogLine(line.text.trim());
    return `: ${JSON.stringify(text.length > LAST_WORDS_MAX ? `${text.slice(0, LAST_WORDS_MAX)}…` : text)}`;
  }

  #emit(event: Omit<InstanceStatusEvent, "restartCount" | "at">): void {
    this.#status = event.status;
    try {
      this.#hooks.onStatus({ ...event, restartCount: this.#restartCount, at: this.#options.now() });
    } catch {
      // A hook's failure must not take the supervisor down with it.
    }
  }
}

function closeStream(stream: WriteStream): Promise<void> {
  return new Promise((resolve) => stream.end(() => resolve()));
}

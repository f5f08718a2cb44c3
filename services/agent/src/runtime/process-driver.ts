import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync, type WriteStream } from "node:fs";
import { join } from "node:path";
import pidusage from "pidusage";
import { LogTail, readableLogLine } from "./log-tail.js";
import { groupPids, signalGroup, waitGroupGone } from "./process-group.js";
import { initialProbeState, observeProbe, type ProbeOutcome } from "./probe-state.js";
import { runProbe } from "./probes.js";
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

/** Readiness probe interval before an instance's first success. */
const STARTUP_PROBE_INTERVAL_MS = 100;
/** How long an exited run's output may take to arrive before its exit is reported. */
const OUTPUT_DRAIN_MS = 500;
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

/** How one run of the process ended, or why we are ending it. */
type RunEnd =
  | { kind: "exit"; code: number | null; signal: NodeJS.Signals | null; error?: Error }
  | { kind: "liveness"; detail: string }
  | { kind: "start-timeout" }
  | { kind: "stop" };

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** One spawned process and everything tied to its life. */
interface Run {
  child: ChildProcess;
  pgid: number | undefined;
  /** Resolves when the main process has exited (or failed to spawn). */
  exited: Promise<ExitInfo>;
  /** Resolves when the process's stdout and stderr are closed: all its output has been read. */
  outputClosed: Promise<void>;
  /** When the run was spawned: its own output lines are those from then on. */
  spawnedAt: number;
  /** The first reason this run should end. */
  end: Promise<RunEnd>;
  settle(end: RunEnd): void;
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
    const pids = await groupPids(pgid);
    const stats = await Promise.allSettled(pids.map((pid) => pidusage(pid)));
    let cpuPercent = 0;
    let memoryBytes = 0;
    for (const stat of stats) {
      if (stat.status === "fulfilled") {
        cpuPercent += stat.value.cpu;
        memoryBytes += stat.value.memory;
      }
    }
    return { cpuPercent, memoryBytes };
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
          // The main process is gone; like a container, nothing it started may outlive it.
          if (run.pgid !== undefined && signalGroup(run.pgid, "SIGKILL")) await waitGroupGone(run.pgid, 2_000);
          // Its last output lines explain the exit; they may still be in the pipe.
          await withTimeout(run.outputClosed, OUTPUT_DRAIN_MS);
        } else {
          const graceMs = end.kind === "stop" ? (this.#stopGraceMs ?? 0) : this.#options.killGracePeriodMs;
          exit = await this.#terminate(run, graceMs);
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
    const resolved = this.#resolved;
    const [file, args] = resolved.args ? [resolved.command, resolved.args] : ["/bin/sh", ["-c", resolved.command]];
    const child = spawn(file, args, {
      cwd: resolved.cwd,
      env: resolved.env,
      // Own process group (setsid): signals to -pgid reach the shell and its children.
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let settle!: (end: RunEnd) => void;
    const end = new Promise<RunEnd>((resolve) => {
      let done = false;
      settle = (value) => {
        if (!done) {
          done = true;
          resolve(value);
        }
      };
    });
    const exited = new Promise<ExitInfo>((resolve) => {
      child.once("exit", (code, signal) => resolve({ code, signal }));
      child.once("error", (error) => {
        // A spawn failure has no exit event; a later error (a failed kill) changes nothing.
        if (child.pid === undefined) resolve({ code: null, signal: null, error });
      });
    });
    const run: Run = {
      child,
      pgid: child.pid,
      exited,
      outputClosed: new Promise<void>((resolve) => child.once("close", () => resolve())),
      spawnedAt: this.#options.now(),
      end,
      settle,
      abort: new AbortController(),
      tasks: [],
      everReady: false,
      readySince: undefined,
      lastReadinessFailure: undefined,
      answeringNotReadySince: undefined,
      reportedNotReady: false,
      startTimer: undefined,
    };
    void exited.then((exit) => settle({ kind: "exit", ...exit }));
    child.stdout?.on("data", (chunk: Buffer) => this.#output("stdout", this.#stdout, chunk));
    child.stderr?.on("data", (chunk: Buffer) => this.#output("stderr", this.#stderr, chunk));
    this.#run = run;
    this.#emit({ status: InstanceStatus.Starting, ...(child.pid === undefined ? {} : { pid: child.pid }) });
    run.startTimer = setTimeout(() => settle({ kind: "start-timeout" }), this.#options.startTimeoutMs);
    run.tasks.push(this.#readinessLoop(run, this.#resolved.readiness));
    return run;
  }

  #output(stream: LogLine["stream"], file: WriteStream, chunk: Buffer): void {
    file.write(chunk);
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

  async #readinessLoop(run: Run, probe: ProbeConfig): Promise<void> {
    const signal = run.abort.signal;
    let state = initialProbeState("readiness");
    if (!(await sleep(probe.initialDelayMs, signal))) return;
    while (!signal.aborted) {
      const outcome = await runProbe(probe, { host: this.#options.probeHost, signal });
      if (signal.aborted) return;
      const next = observeProbe(state, outcome, probe.failureThreshold);
      state = next.state;
      if (!outcome.ok) run.lastReadinessFailure = state.lastFailure;
      if (!run.everReady) this.#watchStartupAnswers(run, outcome, state.consecutiveFailures);
      if (next.transition === "passed") {
        if (!run.everReady) {
          run.everReady = true;
          clearTimeout(run.startTimer);
          if (this.#resolved.liveness) run.tasks.push(this.#livenessLoop(run, this.#resolved.liveness));
        }
        run.readySince = this.#options.now();
        this.#emit({ status: InstanceStatus.Ready, ...(run.child.pid === undefined ? {} : { pid: run.child.pid }) });
      } else if (next.transition === "failed") {
        run.readySince = undefined;
        this.#emit({
          status: InstanceStatus.Unhealthy,
          reason: `readiness probe failed ${state.consecutiveFailures} times: ${state.lastFailure}`,
        });
      }
      // Until the first success, probe quickly: a process that boots in 0.4 s should be Ready then,
      // not a whole period later. After that, the configured period applies.
      const wait = run.everReady ? probe.periodMs : Math.min(probe.periodMs, STARTUP_PROBE_INTERVAL_MS);
      if (!(await sleep(wait, signal))) return;
    }
  }

  async #livenessLoop(run: Run, probe: ProbeConfig): Promise<void> {
    const signal = run.abort.signal;
    let state = initialProbeState("liveness");
    if (!(await sleep(probe.initialDelayMs, signal))) return;
    while (!signal.aborted) {
      const outcome = await runProbe(probe, { host: this.#options.probeHost, signal });
      if (signal.aborted) return;
      const next = observeProbe(state, outcome, probe.failureThreshold);
      state = next.state;
      if (!outcome.ok) run.lastReadinessFailure = state.lastFailure;
      if (!run.everReady) this.#watchStartupAnswers(run, outcome, state.consecutiveFailures);
      if (next.transition === "failed") {
        run.settle({ kind: "liveness", detail: `${state.consecutiveFailures} times: ${state.lastFailure}` });
        return;
      }
      if (!(await sleep(probe.periodMs, signal))) return;
    }
  }

  /** SIGTERM to the group; SIGKILL to what is left after `graceMs`; resolves when the group is gone. */
  async #terminate(run: Run, graceMs: number): Promise<ExitInfo> {
    if (run.pgid === undefined) return await run.exited;
    const deadline = Date.now() + graceMs;
    signalGroup(run.pgid, "SIGTERM");
    await withTimeout(run.exited, graceMs);
    const gone = await waitGroupGone(run.pgid, Math.max(0, deadline - Date.now()));
    if (!gone) {
      signalGroup(run.pgid, "SIGKILL");
      await waitGroupGone(run.pgid, 5_000);
    }
    // SIGKILL cannot be ignored: the main process has exited by now, or will in a moment.
    return (await withTimeout(run.exited, 5_000)) ?? { code: null, signal: null };
  }

  #describeEnd(end: RunEnd, exit: ExitInfo, run: Run): string {
    switch (end.kind) {
      case "liveness":
        return `liveness probe failed ${end.detail}`;
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

/** Resolves true after `ms`, or false as soon as `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

/** `promise`'s value, or undefined once `ms` passed; the timer never outlives the wait. */
async function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const expired = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), ms);
    });
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}

function closeStream(stream: WriteStream): Promise<void> {
  return new Promise((resolve) => stream.end(() => resolve()));
}

import { spawn, type ChildProcess } from "node:child_process";
import { signalGroup, waitGroupGone } from "./process-group.js";
import type { LogLine, ResolvedCommand } from "./types.js";
import { withTimeout } from "./wait.js";

/** How long an exited run's output may take to arrive before its exit is reported. */
const OUTPUT_DRAIN_MS = 500;

/** How one run of the process ended, or why we are ending it. */
export type RunEnd =
  | { kind: "exit"; code: number | null; signal: NodeJS.Signals | null; error?: Error }
  | { kind: "liveness"; reason: string }
  | { kind: "start-timeout" }
  | { kind: "stop" };

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: Error;
}

/** One spawned process group: its exit, its output, and the first reason to end it. */
export interface SpawnedProcess {
  readonly child: ChildProcess;
  /** The group's id (the child is its leader); undefined when the spawn failed. */
  readonly pgid: number | undefined;
  /** Resolves when the main process has exited (or failed to spawn). */
  readonly exited: Promise<ExitInfo>;
  /** Resolves when the process's stdout and stderr are closed: all its output has been read. */
  readonly outputClosed: Promise<void>;
  /** The first reason this run should end: its own exit, or whatever called `settle` first. */
  readonly end: Promise<RunEnd>;
  settle(end: RunEnd): void;
}

/**
 * Starts `resolved` in its own process group (spawned detached, so that ending it also ends whatever
 * its `/bin/sh -c` started), with nothing inherited but the environment it is given.
 */
export function spawnProcess(resolved: ResolvedCommand, onOutput: (stream: LogLine["stream"], chunk: Buffer) => void): SpawnedProcess {
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
  void exited.then((exit) => settle({ kind: "exit", ...exit }));
  child.stdout?.on("data", (chunk: Buffer) => onOutput("stdout", chunk));
  child.stderr?.on("data", (chunk: Buffer) => onOutput("stderr", chunk));
  return {
    child,
    pgid: child.pid,
    exited,
    outputClosed: new Promise<void>((resolve) => child.once("close", () => resolve())),
    end,
    settle,
  };
}

/**
 * After the main process exited by itself: ends what it left in its group (like a container, nothing
 * it started may outlive it), then waits a moment for its last output lines, which explain the exit.
 */
export async function reapExited(spawned: SpawnedProcess): Promise<void> {
  if (spawned.pgid !== undefined && signalGroup(spawned.pgid, "SIGKILL")) await waitGroupGone(spawned.pgid, 2_000);
  await withTimeout(spawned.outputClosed, OUTPUT_DRAIN_MS);
}

/** SIGTERM to the group; SIGKILL to what is left after `graceMs`; resolves when the group is gone. */
export async function terminateProcess(spawned: SpawnedProcess, graceMs: number): Promise<ExitInfo> {
  if (spawned.pgid === undefined) return await spawned.exited;
  const deadline = Date.now() + graceMs;
  signalGroup(spawned.pgid, "SIGTERM");
  await withTimeout(spawned.exited, graceMs);
  const gone = await waitGroupGone(spawned.pgid, Math.max(0, deadline - Date.now()));
  if (!gone) {
    signalGroup(spawned.pgid, "SIGKILL");
    await waitGroupGone(spawned.pgid, 5_000);
  }
  // SIGKILL cannot be ignored: the main process has exited by now, or will in a moment.
  return (await withTimeout(spawned.exited, 5_000)) ?? { code: null, signal: null };
}

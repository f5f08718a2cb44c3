/**
 * Test helpers for processors (`@eas/processor-kit/testing`): start a processor's main.ts as
 * a child process the way the agent does, and read its JSON log lines.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";

/** Rejects after `ms` with a message naming what was awaited. */
export async function within<T>(ms: number, what: string, promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** A processor started as a child process the way the agent starts it. */
export interface ProcessorChild {
  readonly child: ChildProcess;
  /** Every JSON line logged on stdout so far. */
  readonly lines: Array<Record<string, unknown>>;
  /** Everything written on stderr so far. */
  readonly stderr: string[];
  /** Resolves with the exit code (or the signal name) once the child is gone. */
  readonly exited: Promise<number | string>;
  /** Resolves with the first logged line whose `msg` is `msg`. */
  waitForLog(msg: string, timeoutMs: number): Promise<Record<string, unknown>>;
  /** SIGKILLs the child if it still runs (for cleanup after failed assertions). */
  kill(): void;
}

/** Starts `node --conditions=source --import tsx <main>` with `env` added to this process's env. */
export function startProcessor(main: string, env: Readonly<Record<string, string>>): ProcessorChild {
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", main], {
    env: { ...process.env, ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const lines: Array<Record<string, unknown>> = [];
  const stderr: string[] = [];
  const waiters: Array<{ msg: string; resolve: (line: Record<string, unknown>) => void }> = [];
  createInterface({ input: child.stdout! }).on("line", (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      line = { msg: "<not json>", text };
    }
    lines.push(line);
    for (const waiter of waiters.filter((w) => w.msg === line.msg)) waiter.resolve(line);
  });
  child.stderr!.on("data", (chunk: Buffer) => stderr.push(chunk.toString()));
  const exited = new Promise<number | string>((resolve) => {
    child.on("exit", (code, signal) => resolve(code ?? signal ?? "unknown"));
  });
  return {
    child,
    lines,
    stderr,
    exited,
    waitForLog(msg, timeoutMs) {
      const seen = lines.find((line) => line.msg === msg);
      if (seen !== undefined) return Promise.resolve(seen);
      const found = new Promise<Record<string, unknown>>((resolve) => waiters.push({ msg, resolve }));
      const gone = exited.then((code): never => {
        throw new Error(`processor exited (${code}) before logging '${msg}'; stderr: ${stderr.join("")}`);
      });
      return within(timeoutMs, `log line '${msg}'`, Promise.race([found, gone]));
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

/**
 * Starts processors from one main.ts with PORT=0 and HOST=127.0.0.1 and remembers them, so
 * that a test file can kill whatever is left after each test (`afterEach(() => children.killAll())`).
 */
export class ProcessorChildren {
  private readonly started: ProcessorChild[] = [];

  constructor(private readonly main: string) {}

  /** Starts one child with `env` on top of the defaults. */
  start(env: Readonly<Record<string, string>>): ProcessorChild {
    const child = startProcessor(this.main, { PORT: "0", HOST: "127.0.0.1", ...env });
    this.started.push(child);
    return child;
  }

  /** SIGKILLs every child started so far that still runs, and forgets them. */
  killAll(): void {
    for (const child of this.started.splice(0)) child.kill();
  }
}

/**
 * Helpers shared by this package's tests (not part of the public surface).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import { createInterface } from "node:readline";

/** A small seeded PRNG (mulberry32), so failure injection is reproducible in tests. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A TCP port that was free a moment ago on 127.0.0.1. */
export async function freePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("no port assigned"));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

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

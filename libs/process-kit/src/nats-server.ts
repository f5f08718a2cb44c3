import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./ports.js";

/** A nats-server child process with JetStream, started for a test or the local cluster. */
export interface NatsServerHandle {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  /** Stops the server (SIGTERM, then SIGKILL) and removes a temporary store folder. */
  stop(): Promise<void>;
}

export interface NatsServerOptions {
  /** JetStream store folder; a fresh temporary folder (removed on stop) when omitted. */
  storeDir?: string;
  port?: number;
  /** Where to look for the binary; defaults to PATH, /usr/sbin and /usr/bin. */
  binary?: string;
  /** Pipe the server's log here. */
  onLog?: (line: string) => void;
  /**
   * Run the server in its own process group, so a terminal's Ctrl-C (SIGINT to the foreground group)
   * does not reach it and its owner stops it last, after the processes that still use it. Default false:
   * a test run interrupted with Ctrl-C then takes its servers down with it.
   */
  ownProcessGroup?: boolean;
}

const BINARY_CANDIDATES = ["/usr/sbin/nats-server", "/usr/bin/nats-server", "/usr/local/bin/nats-server"];

/** Path of the nats-server binary, or an Error that says how to install it. */
export function findNatsServerBinary(explicit?: string): string {
  if (explicit) return explicit;
  if (process.env.NATS_SERVER_BIN) return process.env.NATS_SERVER_BIN;
  for (const candidate of BINARY_CANDIDATES) if (existsSync(candidate)) return candidate;
  for (const dir of (process.env.PATH ?? "").split(":")) {
    const candidate = join(dir, "nats-server");
    if (dir && existsSync(candidate)) return candidate;
  }
  throw new Error("nats-server binary not found: install it with `apt-get install -y nats-server` (Debian/Ubuntu) or set NATS_SERVER_BIN");
}

/** Starts nats-server with JetStream on loopback and resolves once it accepts clients. */
export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServerHandle> {
  const binary = findNatsServerBinary(options.binary);
  const temporary = options.storeDir === undefined;
  const storeDir = options.storeDir ?? mkdtempSync(join(tmpdir(), "eas-nats-"));
  const port = options.port ?? (await freePort());
  const child = spawn(binary, ["-js", "-a", "127.0.0.1", "-p", String(port), "-sd", storeDir], {
    stdio: ["ignore", "pipe", "pipe"],
    detached: options.ownProcessGroup ?? false,
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  await waitForReady(child, options.onLog);
  let stopped = false;
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
      if (temporary) rmSync(storeDir, { recursive: true, force: true });
    },
  };
}

async function waitForReady(child: ChildProcess, onLog?: (line: string) => void): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    let buffered = "";
    let ready = false;
    const timer = setTimeout(() => reject(new Error(`nats-server did not start in 10s:\n${buffered}`)), 10_000);
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      if (onLog) for (const line of text.split("\n")) if (line) onLog(line);
      if (ready) return;
      buffered += text;
      if (buffered.includes("Server is ready")) {
        ready = true;
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout?.on("data", onData);
    child.stderr?.on("data", onData);
    child.once("exit", (code) => {
      clearTimeout(timer);
      if (!ready) reject(new Error(`nats-server exited with ${code}:\n${buffered}`));
    });
  });
}

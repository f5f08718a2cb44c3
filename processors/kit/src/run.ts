import { jsonLogger, type Logger } from "./log.js";
import type { BoundAddress } from "./http.js";
import { startRequestTracing } from "./tracing.js";

/** The environment a processor is started with (the agent sets PORT, HOST, EAS_*). */
export type ProcessorEnv = Readonly<Record<string, string | undefined>>;

/** An env variable that must be a non-negative integer. */
export class EnvIntegerError extends Error {
  override readonly name = "EnvIntegerError";
  constructor(
    readonly variable: string,
    readonly value: string,
  ) {
    super(`${variable} must be a non-negative integer, got '${value}'`);
  }
}

/** Reads `name` from `env` as a non-negative integer, `fallback` when unset or empty. */
export function intFromEnv(env: ProcessorEnv, name: string, fallback: number): number {
  const text = env[name];
  if (text === undefined || text === "") return fallback;
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0) throw new EnvIntegerError(name, text);
  return value;
}

/** The part of a processor's server that {@link runProcessor} drives. */
export interface ProcessorServer {
  /** Starts serving; resolves with the bound address. */
  listen(port: number, host?: string): Promise<BoundAddress>;
  /** Graceful stop: finishes in-flight work, then resolves. */
  close(): Promise<void>;
}

/** What a processor's `create` hands back to {@link runProcessor}. */
export interface ProcessorSetup {
  readonly server: ProcessorServer;
  /** Fields added to the `listening` log line (after `port` and `host`). */
  readonly listeningFields?: Readonly<Record<string, unknown>>;
  /** How long `listen` waits before binding; logged as `delaying startup` once signals are handled. */
  readonly startupDelayMs?: number;
  /** Whether a `listen` rejection means a stop came first (a clean exit, not a start failure). */
  readonly isStoppedBeforeListening?: (error: unknown) => boolean;
}

/** What {@link runProcessor} needs to know about a processor. */
export interface ProcessorDefinition {
  /** Short name, logged as `processor` on every line. */
  readonly name: string;
  /** Reads the config from `env` and builds the server; a throw is a start failure (exit 1). */
  create(env: ProcessorEnv, log: Logger): ProcessorSetup | Promise<ProcessorSetup>;
}

/**
 * The composition root every processor shares, as the agent starts it: logs JSON lines on
 * stdout, traces requests when OTEL_EXPORTER_OTLP_ENDPOINT is set (`tracing.ts`), builds the
 * server, listens on PORT/HOST, logs `listening`, and on SIGTERM or SIGINT drains, flushes spans
 * and exits 0 (1 when the drain fails). A failure to start logs an error line
 * and exits 1, so the agent sees it in the log rather than as a silent crash.
 */
export function runProcessor(definition: ProcessorDefinition, env: ProcessorEnv = process.env): void {
  const log = jsonLogger({ processor: definition.name, pid: process.pid, instance: env.EAS_INSTANCE_ID });

  async function main(): Promise<void> {
    const stopTracing = await startRequestTracing(env, definition.name);
    const setup = await definition.create(env, log);
    const { server } = setup;

    let stopping = false;
    const stop = (signal: NodeJS.Signals): void => {
      if (stopping) return;
      stopping = true;
      log("info", "stopping", { signal });
      server
        .close()
        // Spans that cannot be flushed are lost, but never fail the stop.
        .then(() => stopTracing?.().catch(() => undefined))
        .then(
          () => {
            log("info", "stopped");
            process.exit(0);
          },
          (error: unknown) => {
            log("error", "stop failed", { error: String(error) });
            process.exit(1);
          },
        );
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);

    const startupDelayMs = setup.startupDelayMs ?? 0;
    if (startupDelayMs > 0) log("info", "delaying startup", { startupDelayMs });
    try {
      const { port, host } = await server.listen(intFromEnv(env, "PORT", 0), env.HOST ?? "127.0.0.1");
      if (!stopping) log("info", "listening", { port, host, ...setup.listeningFields });
    } catch (error) {
      // A stop requested before the server listened is a clean exit, handled by `stop`.
      if (!(setup.isStoppedBeforeListening?.(error) ?? false)) throw error;
    }
  }

  main().catch((error: unknown) => {
    log("error", `${definition.name} processor failed to start`, {
      error: error instanceof Error ? error.message : String(error),
    });
    process.exit(1);
  });
}

import type { Logger } from "./logger.js";

/**
 * Shutdown phases in the order they run: stop taking new work (close gRPC/HTTP
 * servers, stop subscriptions), finish work in flight, close connections (NATS),
 * flush telemetry.
 */
export const SHUTDOWN_PHASES = ["stop-accepting", "drain", "close-connections", "flush"] as const;

/** One of {@link SHUTDOWN_PHASES}. */
export type ShutdownPhase = (typeof SHUTDOWN_PHASES)[number];

/** Work to do when the process shuts down. */
export type ShutdownHook = () => Promise<void> | void;

/** Where OS signals come from; `process` by default, an EventEmitter in tests. */
export interface SignalSource {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
}

/** Options of {@link createShutdown}. */
export interface ShutdownOptions {
  logger: Logger;
  /** Budget for all phases together; past it the shutdown fails with {@link ShutdownTimeoutError}. Default 10 000. */
  timeoutMs?: number;
  /** How the signal handlers end the process; `process.exit` by default. */
  exit?: (code: number) => void;
  /** Source of signals for {@link Shutdown.installSignalHandlers}; `process` by default. */
  signals?: SignalSource;
}

/** A process's graceful-shutdown sequence. */
export interface Shutdown {
  /**
   * Registers `fn` under `name` in `phase`. Hooks of one phase run concurrently;
   * a phase starts when every hook of the previous one has settled. A hook that
   * throws is logged and the sequence goes on; {@link Shutdown.run} then rejects with {@link ShutdownHookError}.
   */
  onShutdown(name: string, fn: ShutdownHook, phase: ShutdownPhase): void;
  /**
   * On the first SIGTERM or SIGINT runs the sequence once and exits 0 (1 when
   * it failed or timed out); a second signal exits 1 at once. Returns a function that removes the handlers.
   */
  installSignalHandlers(signals?: readonly NodeJS.Signals[]): () => void;
  /**
   * Runs the phases once; later calls return the same promise. Does not exit
   * the process. Rejects with {@link ShutdownTimeoutError} past the budget (later
   * phases are then skipped) or {@link ShutdownHookError} when hooks threw.
   */
  run(reason: string): Promise<void>;
  /** True once {@link Shutdown.run} has been called, e.g. for readiness probes to fail. */
  readonly isShuttingDown: boolean;
}

/** The shutdown sequence did not finish within its budget. */
export class ShutdownTimeoutError extends Error {
  override readonly name = "ShutdownTimeoutError";
  constructor(
    readonly timeoutMs: number,
    readonly phase: ShutdownPhase | undefined,
    readonly pendingHooks: readonly string[],
  ) {
    super(`shutdown did not finish in ${timeoutMs} ms (phase ${phase ?? "none"}, pending: ${pendingHooks.join(", ") || "none"})`);
  }
}

/** One failed shutdown hook. */
export interface ShutdownHookFailure {
  name: string;
  phase: ShutdownPhase;
  error: unknown;
}

/** Some shutdown hooks threw; every phase still ran. */
export class ShutdownHookError extends Error {
  override readonly name = "ShutdownHookError";
  constructor(readonly failures: readonly ShutdownHookFailure[]) {
    super(`shutdown hooks failed: ${failures.map((failure) => `${failure.phase}/${failure.name}`).join(", ")}`);
  }
}

interface RegisteredHook {
  name: string;
  fn: ShutdownHook;
  phase: ShutdownPhase;
}

/** Creates the graceful-shutdown sequence of one process; register hooks as resources open. */
export function createShutdown(options: ShutdownOptions): Shutdown {
  const logger = options.logger;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const hooks: RegisteredHook[] = [];
  let running: Promise<void> | undefined;
  let currentPhase: ShutdownPhase | undefined;
  const pending = new Set<RegisteredHook>();

  async function runPhases(isAborted: () => boolean): Promise<void> {
    const failures: ShutdownHookFailure[] = [];
    for (const phase of SHUTDOWN_PHASES) {
      if (isAborted()) return;
      currentPhase = phase;
      const inPhase = hooks.filter((hook) => hook.phase === phase);
      if (inPhase.length === 0) continue;
      logger.debug({ phase, hooks: inPhase.map((hook) => hook.name) }, "shutdown phase");
      await Promise.all(
        inPhase.map(async (hook) => {
          pending.add(hook);
          try {
            await hook.fn();
          } catch (error) {
            failures.push({ name: hook.name, phase, error });
            logger.error({ err: error, hook: hook.name, phase }, "shutdown hook failed");
          } finally {
            pending.delete(hook);
          }
        }),
      );
    }
    if (failures.length > 0) throw new ShutdownHookError(failures);
  }

  async function execute(reason: string): Promise<void> {
    logger.info({ reason, timeoutMs }, "shutting down");
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(
          new ShutdownTimeoutError(
            timeoutMs,
            currentPhase,
            [...pending].map((hook) => hook.name),
          ),
        );
      }, timeoutMs);
    });
    try {
      await Promise.race([runPhases(() => timedOut), timeout]);
      logger.info({ reason, durationMs: Math.round(performance.now() - started) }, "shutdown complete");
    } catch (error) {
      logger.error({ err: error, reason }, "shutdown failed");
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  const shutdown: Shutdown = {
    onShutdown(name, fn, phase) {
      if (!SHUTDOWN_PHASES.includes(phase)) throw new RangeError(`unknown shutdown phase "${String(phase)}"`);
      if (running) {
        // Hooks are read when their phase starts, so a late one still runs if its phase is ahead.
        logger.warn({ hook: name, phase }, "shutdown hook registered while shutting down");
      }
      hooks.push({ name, fn, phase });
    },
    installSignalHandlers(signals = ["SIGTERM", "SIGINT"]) {
      const source = options.signals ?? process;
      let received = 0;
      let exited = false;
      const exitOnce = (code: number) => {
        if (exited) return;
        exited = true;
        exit(code);
      };
      const onSignal = (signal: NodeJS.Signals) => {
        received += 1;
        if (received > 1) {
          logger.warn({ signal }, "second signal during shutdown, exiting now");
          exitOnce(1);
          return;
        }
        shutdown.run(`signal ${signal}`).then(
          () => exitOnce(0),
          () => exitOnce(1),
        );
      };
      for (const signal of signals) source.on(signal, onSignal);
      return () => {
        for (const signal of signals) source.off(signal, onSignal);
      };
    },
    run(reason) {
      running ??= execute(reason);
      return running;
    },
    get isShuttingDown() {
      return running !== undefined;
    },
  };
  return shutdown;
}

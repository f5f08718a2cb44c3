import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { createLogger } from "./logger.js";
import { createShutdown, ShutdownHookError, ShutdownTimeoutError, type ShutdownPhase } from "./shutdown.js";

const logger = createLogger({ name: "shutdown-test", level: "silent" });

function signalSource(): EventEmitter & {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown;
} {
  return new EventEmitter();
}

/** Resolves when `exit` is called, with the code, or fails after `timeoutMs`. */
function exitRecorder(timeoutMs = 2_000) {
  const codes: number[] = [];
  let resolveFirst: (code: number) => void = () => {};
  const first = new Promise<number>((resolve, reject) => {
    resolveFirst = resolve;
    setTimeout(() => reject(new Error("exit was not called")), timeoutMs).unref();
  });
  return {
    codes,
    first,
    exit: (code: number) => {
      codes.push(code);
      resolveFirst(code);
    },
  };
}

const never = () => new Promise<void>(() => {});

describe("createShutdown", () => {
  it("runs the phases in order whatever the registration order", async () => {
    const shutdown = createShutdown({ logger, timeoutMs: 1_000 });
    const ran: string[] = [];
    const phases: [string, ShutdownPhase][] = [
      ["flush telemetry", "flush"],
      ["close nats", "close-connections"],
      ["close grpc", "stop-accepting"],
      ["finish requests", "drain"],
      ["close http", "stop-accepting"],
    ];
    for (const [name, phase] of phases) {
      shutdown.onShutdown(
        name,
        async () => {
          await new Promise((resolve) => setTimeout(resolve, 2));
          ran.push(phase);
        },
        phase,
      );
    }
    assert.equal(shutdown.isShuttingDown, false);
    await shutdown.run("test");
    assert.equal(shutdown.isShuttingDown, true);
    assert.deepEqual(ran, ["stop-accepting", "stop-accepting", "drain", "close-connections", "flush"]);
  });

  it("runs once however often it is called", async () => {
    const shutdown = createShutdown({ logger, timeoutMs: 1_000 });
    let calls = 0;
    shutdown.onShutdown("count", () => void (calls += 1), "drain");
    const first = shutdown.run("a");
    const second = shutdown.run("b");
    assert.equal(first, second);
    await first;
    assert.equal(calls, 1);
  });

  it("given a hanging hook, when the budget runs out, then it fails naming the hook and skips later phases", async () => {
    const shutdown = createShutdown({ logger, timeoutMs: 50 });
    let flushed = false;
    shutdown.onShutdown("stuck consumer", never, "drain");
    shutdown.onShutdown("quick", () => {}, "drain");
    shutdown.onShutdown("flush", () => void (flushed = true), "flush");
    const started = performance.now();
    await assert.rejects(shutdown.run("test"), (error: unknown) => {
      assert.ok(error instanceof ShutdownTimeoutError);
      assert.equal(error.timeoutMs, 50);
      assert.equal(error.phase, "drain");
      assert.deepEqual(error.pendingHooks, ["stuck consumer"]);
      return true;
    });
    assert.ok(performance.now() - started < 1_000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(flushed, false);
  });

  it("given a failing hook, then later phases still run and the run rejects with the failure", async () => {
    const shutdown = createShutdown({ logger, timeoutMs: 1_000 });
    const ran: string[] = [];
    shutdown.onShutdown(
      "broken",
      () => {
        throw new Error("boom");
      },
      "stop-accepting",
    );
    shutdown.onShutdown("flush", () => void ran.push("flush"), "flush");
    await assert.rejects(shutdown.run("test"), (error: unknown) => {
      assert.ok(error instanceof ShutdownHookError);
      assert.equal(error.failures.length, 1);
      assert.equal(error.failures[0]?.name, "broken");
      assert.equal(error.failures[0]?.phase, "stop-accepting");
      return true;
    });
    assert.deepEqual(ran, ["flush"]);
  });

  it("rejects an unknown phase", () => {
    const shutdown = createShutdown({ logger });
    assert.throws(() => shutdown.onShutdown("x", () => {}, "later" as ShutdownPhase), RangeError);
  });

  describe("installSignalHandlers", () => {
    it("given SIGTERM, then it runs the sequence and exits 0", async () => {
      const signals = signalSource();
      const recorder = exitRecorder();
      const shutdown = createShutdown({ logger, timeoutMs: 1_000, exit: recorder.exit, signals });
      let closed = false;
      shutdown.onShutdown("close", () => void (closed = true), "close-connections");
      const uninstall = shutdown.installSignalHandlers();
      signals.emit("SIGTERM", "SIGTERM");
      assert.equal(await recorder.first, 0);
      assert.equal(closed, true);
      uninstall();
      assert.equal(signals.listenerCount("SIGTERM"), 0);
      assert.equal(signals.listenerCount("SIGINT"), 0);
    });

    it("given a second signal while a hook hangs, then it exits 1 at once", async () => {
      const signals = signalSource();
      const recorder = exitRecorder();
      // The budget's timer keeps the test process alive until it fires, so keep it short but far above "at once".
      const shutdown = createShutdown({ logger, timeoutMs: 1_000, exit: recorder.exit, signals });
      shutdown.onShutdown("stuck", never, "drain");
      const uninstall = shutdown.installSignalHandlers();
      const started = performance.now();
      signals.emit("SIGINT", "SIGINT");
      signals.emit("SIGTERM", "SIGTERM");
      assert.equal(await recorder.first, 1);
      assert.ok(performance.now() - started < 500);
      assert.deepEqual(recorder.codes, [1]);
      uninstall();
    });

    it("given a hook that hangs past the budget, then it exits 1", async () => {
      const signals = signalSource();
      const recorder = exitRecorder();
      const shutdown = createShutdown({ logger, timeoutMs: 30, exit: recorder.exit, signals });
      shutdown.onShutdown("stuck", never, "stop-accepting");
      const uninstall = shutdown.installSignalHandlers();
      signals.emit("SIGTERM", "SIGTERM");
      assert.equal(await recorder.first, 1);
      uninstall();
    });
  });
});

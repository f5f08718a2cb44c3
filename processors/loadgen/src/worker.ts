import type { StressTarget, StressWorkerControl, StressWorkerReport } from "@eas/proto";
import { bodiesOf } from "./bodies.js";
import { ClosedLoopSender } from "./closed-loop.js";
import { systemClock, type Clock } from "./clock.js";
import { HttpTarget } from "./http-target.js";
import { OpenLoopSender } from "./open-loop.js";
import { SecondBuckets } from "./seconds.js";
import type { Sender } from "./sender.js";

export type WorkerState = "waiting" | "loading" | "ready" | "running" | "stopped" | "failed";

/** How a worker hears its controller and answers it (NATS in the processor, direct calls in tests). */
export interface WorkerTransport {
  /** Calls `handler` with each control message of the worker's task; returns the unsubscribe. */
  onControl(handler: (control: StressWorkerControl) => void): () => void;
  report(report: StressWorkerReport): void;
  /** The bytes of an `obj://` URL. */
  loadData(url: string): Promise<Uint8Array>;
}

export interface LoadWorkerOptions {
  readonly taskId: string;
  readonly workerId: string;
  readonly transport: WorkerTransport;
  readonly clock?: Clock;
  /** A running worker that hears nothing from its controller this long stops sending. Default 3 s. */
  readonly controlSilenceMs?: number;
  readonly log?: (level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>) => void;
}

export interface LoadWorker {
  readonly state: WorkerState;
  /** Stops sending, abandons what is in flight and stops reporting. */
  close(): Promise<void>;
}

/**
 * One load worker of a stress task: follows the controller's control messages (target, then the load in
 * force, then stop), sends open or closed loop, and reports each second's counts and latency histogram.
 *
 * Safety: it sends nothing at or after the control's `end_at_ms`; a stop ends sending at once and
 * abandons the requests in flight; and when the controller falls silent for `controlSilenceMs` (it
 * crashed, or the network split) the worker stops by itself.
 */
export function startLoadWorker(options: LoadWorkerOptions): LoadWorker {
  const clock = options.clock ?? systemClock;
  const silenceMs = options.controlSilenceMs ?? 3_000;
  const log = options.log ?? (() => undefined);
  const buckets = new SecondBuckets();
  let state: WorkerState = "waiting";
  let error = "";
  let target: HttpTarget | undefined;
  let targetKey = "";
  let sender: Sender | undefined;
  let closedLoop = false;
  let phase = 0;
  let lastControlAt = clock.now();
  let pendingPhaseTimer: NodeJS.Timeout | undefined;
  let reportTimer: NodeJS.Timeout | undefined;
  let closed = false;

  const stopSending = (why: string) => {
    if (state === "stopped" || state === "failed") return;
    if (pendingPhaseTimer) clearTimeout(pendingPhaseTimer);
    sender?.stop();
    if (sender && sender.inFlight > 0) void target?.destroy();
    state = "stopped";
    log("info", "stopped sending", { reason: why });
  };

  const fail = (message: string) => {
    sender?.stop();
    state = "failed";
    error = message;
    log("error", "load worker failed", { error: message });
  };

  const prepare = async (spec: StressTarget) => {
    state = "loading";
    try {
      const data = spec.dataUrl ? await options.transport.loadData(spec.dataUrl) : new Uint8Array(0);
      if (closed || state !== "loading") return;
      target = new HttpTarget({
        urls: spec.urls,
        method: spec.method || "POST",
        headers: spec.headers,
        timeoutMs: spec.timeoutMs || 20_000,
        bodies: bodiesOf(data, { binary: spec.binary, multiLine: spec.multiLine }),
        connections: spec.connections || 1,
      });
      targetKey = spec.urls.join(" ");
      state = "ready";
      log("info", "ready", { urls: spec.urls, bodies: data.length });
    } catch (cause) {
      fail(`cannot load the request data ${spec.dataUrl}: ${cause instanceof Error ? cause.message : String(cause)}`);
    }
  };

  const applyLoad = (control: StressWorkerControl) => {
    const load = control.load!;
    const index = control.workerIds.indexOf(options.workerId);
    if (index < 0 || load.phase <= phase || !target) return;
    phase = load.phase;
    const connections = control.target?.connections || 1;
    if (!sender) {
      closedLoop = load.closedLoop;
      sender = closedLoop
        ? new ClosedLoopSender({ sink: target, buckets, clock, endAtMs: control.endAtMs })
        : new OpenLoopSender({
            sink: target,
            buckets,
            clock,
            connections,
            timeoutMs: control.target?.timeoutMs || 20_000,
            endAtMs: control.endAtMs,
          });
    }
    sender.setEnd(control.endAtMs);
    if (sender instanceof OpenLoopSender) {
      sender.setPhase({ fromMs: load.fromMs, rate: load.rate, workerIndex: index, workerCount: control.workerIds.length });
    } else if (sender instanceof ClosedLoopSender) {
      const closedSender = sender;
      if (pendingPhaseTimer) clearTimeout(pendingPhaseTimer);
      pendingPhaseTimer = setTimeout(() => closedSender.setConcurrency(load.concurrency), Math.max(0, load.fromMs - clock.now()));
    }
    state = "running";
  };

  const onControl = (control: StressWorkerControl) => {
    if (closed || control.taskId !== options.taskId) return;
    lastControlAt = clock.now();
    if (control.stop) {
      stopSending("the controller stopped the task");
      return;
    }
    if (state === "stopped" || state === "failed") return;
    if (state === "waiting" && control.target) {
      void prepare(control.target);
      return;
    }
    if (control.target && target && state === "ready" && control.target.urls.join(" ") !== targetKey) {
      // Direct mode: the service's Ready instances changed before the load started.
      void target.close();
      target = undefined;
      void prepare(control.target);
      return;
    }
    if (control.load && (state === "ready" || state === "running")) applyLoad(control);
    else if (sender && control.endAtMs) sender.setEnd(control.endAtMs);
  };

  const publishSeconds = () => {
    const now = clock.now();
    if ((state === "running" || state === "loading" || state === "ready") && now - lastControlAt > silenceMs) {
      stopSending(`no control message for ${silenceMs} ms`);
    }
    if (state === "running" && sender?.finished) {
      state = "stopped";
      log("info", "load ended");
    }
    const closedSeconds = buckets.close(now);
    const last = Math.floor(now / 1000) * 1000 - 1000;
    if (closedSeconds.length === 0) closedSeconds.push({ ...emptySecond, startMs: last });
    for (const second of closedSeconds) {
      options.transport.report({
        taskId: options.taskId,
        workerId: options.workerId,
        state,
        error,
        startMs: second.startMs,
        phase,
        closedLoop,
        planned: second.planned,
        sent: second.sent,
        completed: second.completed,
        responsesByCode: second.responsesByCode,
        timeouts: second.timeouts,
        connectionErrors: second.connectionErrors,
        latencyHistogramUs: second.latencyHistogramUs,
        inFlight: sender?.inFlight ?? 0,
        backlog: sender?.backlog ?? 0,
        bytesIn: second.bytesIn,
      });
    }
  };

  // Reports go out just after each second ends: the requests that ended in it are all counted by then.
  const armReport = () => {
    const now = clock.now();
    const delay = 1000 - (now % 1000) + 20;
    reportTimer = setTimeout(() => {
      if (closed) return;
      publishSeconds();
      armReport();
    }, delay);
  };
  const unsubscribe = options.transport.onControl(onControl);
  armReport();

  return {
    get state() {
      return state;
    },
    async close() {
      if (closed) return;
      closed = true;
      unsubscribe();
      if (reportTimer) clearTimeout(reportTimer);
      if (pendingPhaseTimer) clearTimeout(pendingPhaseTimer);
      sender?.stop();
      await target?.destroy();
    },
  };
}

const emptySecond = {
  startMs: 0,
  planned: 0,
  sent: 0,
  completed: 0,
  timeouts: 0,
  connectionErrors: 0,
  bytesIn: 0,
  responsesByCode: {},
  latencyHistogramUs: Buffer.alloc(0),
};

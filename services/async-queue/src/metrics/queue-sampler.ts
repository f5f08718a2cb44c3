import { Counter, Gauge, type Registry } from "prom-client";
import type { QueueSample, QueueStatus } from "@eas/proto";
import type { Logger } from "@eas/telemetry";

export interface QueueSamplerOptions {
  /** The process that measures, e.g. "async-queue-3f2a". */
  source: string;
  /** The async services to sample now. */
  services: () => string[];
  /** One service's queue now (`eas queue`'s figures). */
  status: (service: string) => Promise<QueueStatus>;
  /** Failed attempts of the service since the start. */
  failedAttempts: (service: string) => number;
  publish: (sample: QueueSample) => void;
  registry: Registry;
  logger: Logger;
  /** Wall clock, Unix ms. */
  clock?: () => number;
}

interface Totals {
  done: number;
  failed: number;
  failedAttempts: number;
}

/**
 * Once a second, a {@link QueueSample} per async service on `eas.metrics.queue.<service>` (idle ones too: a
 * backlog without capacity must show, it is what scales a service up from zero), and the same figures as
 * Prometheus gauges and counters on the ops port.
 */
export class QueueSampler {
  readonly #options: QueueSamplerOptions;
  readonly #clock: () => number;
  readonly #previous = new Map<string, Totals>();
  readonly #gauges: Record<"length" | "oldest" | "inFlight" | "slots" | "deadLetters", Gauge>;
  readonly #outcomes: Counter;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;

  constructor(options: QueueSamplerOptions) {
    this.#options = options;
    this.#clock = options.clock ?? Date.now;
    const registers = [options.registry];
    this.#gauges = {
      length: new Gauge({
        name: "eas_async_queue_length",
        help: "Requests in the queue (waiting or running)",
        labelNames: ["queue_service"],
        registers,
      }),
      oldest: new Gauge({
        name: "eas_async_queue_oldest_age_seconds",
        help: "Age of the oldest request in the queue",
        labelNames: ["queue_service"],
        registers,
      }),
      inFlight: new Gauge({ name: "eas_async_in_flight", help: "Attempts running on instances", labelNames: ["queue_service"], registers }),
      slots: new Gauge({
        name: "eas_async_slots",
        help: "Attempts the Ready instances can run at once",
        labelNames: ["queue_service"],
        registers,
      }),
      deadLetters: new Gauge({ name: "eas_async_dead_letters", help: "Dead letters kept", labelNames: ["queue_service"], registers }),
    };
    this.#outcomes = new Counter({
      name: "eas_async_outcomes_total",
      help: "Requests finished, by outcome: answered (done) or dead-lettered (failed)",
      labelNames: ["queue_service", "outcome"],
      registers,
    });
  }

  start(): void {
    const tick = () => {
      // On the next whole second, so samples of one second line up across processes.
      this.#timer = setTimeout(
        () => {
          this.#running = this.sampleAll().finally(() => (this.#running = undefined));
          tick();
        },
        1_000 - (this.#clock() % 1_000),
      );
      this.#timer.unref();
    };
    tick();
  }

  async stop(): Promise<void> {
    clearTimeout(this.#timer);
    await this.#running;
  }

  /** Samples every async service once. */
  async sampleAll(): Promise<void> {
    const end = this.#clock();
    const start = end - (end % 1_000) - 1_000;
    const services = this.#options.services();
    for (const gone of [...this.#previous.keys()].filter((name) => !services.includes(name))) {
      this.#previous.delete(gone);
      for (const gauge of Object.values(this.#gauges)) gauge.remove({ queue_service: gone });
    }
    await Promise.all(
      services.map(async (service) => {
        try {
          this.#sample(service, await this.#options.status(service), start);
        } catch (error) {
          this.#options.logger.debug(
            { service, err: error instanceof Error ? error.message : String(error) },
            "no queue sample this second",
          );
        }
      }),
    );
  }

  #sample(service: string, status: QueueStatus, start: number): void {
    const totals: Totals = { done: status.done, failed: status.failed, failedAttempts: this.#options.failedAttempts(service) };
    const before = this.#previous.get(service) ?? totals;
    this.#previous.set(service, totals);
    const labels = { queue_service: service };
    this.#gauges.length.set(labels, status.length);
    this.#gauges.oldest.set(labels, status.oldestAgeMs / 1000);
    this.#gauges.inFlight.set(labels, status.inFlight);
    this.#gauges.slots.set(labels, status.slots);
    this.#gauges.deadLetters.set(labels, status.deadLetters);
    const done = Math.max(0, totals.done - before.done);
    const failed = Math.max(0, totals.failed - before.failed);
    if (done > 0) this.#outcomes.inc({ ...labels, outcome: "done" }, done);
    if (failed > 0) this.#outcomes.inc({ ...labels, outcome: "failed" }, failed);
    this.#options.publish({
      service,
      source: this.#options.source,
      startMs: start,
      durationMs: 1_000,
      length: status.length,
      priorityLength: status.priorityLength,
      maxLength: status.maxLength,
      oldestAgeMs: status.oldestAgeMs,
      inFlight: status.inFlight,
      slots: status.slots,
      readyInstances: status.readyInstances,
      done,
      failed,
      failedAttempts: Math.max(0, totals.failedAttempts - before.failedAttempts),
      deadLetters: status.deadLetters,
    });
  }
}

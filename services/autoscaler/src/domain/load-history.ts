/** What one second of a service's load adds up to, across every gateway and instance that reported it. */
export interface SecondLoad {
  /** Requests answered that instances could serve (the gateway's own 401, 413 and 429 left out). */
  requests: number;
  /** Requests in flight or queued (held at zero included) at the end of the second, summed over gateways. */
  pending: number;
  /** Requests in flight on instances or queued in gateways (held at zero included). */
  concurrency: number;
  /** CPU of the Ready instances, percent of one core, summed over the instance samples of the second. */
  cpuPercent: number;
  /** Instance samples that second (about the Ready instances). */
  cpuSamples: number;
  /** Async services: work items waiting, the latest value reported that second; -1 when none was. */
  backlog: number;
}

/** A window's averages. Seconds without a gateway sample count as idle; CPU averages only seconds that had samples. */
export interface WindowLoad {
  /** Seconds the window spans (shorter than asked while the autoscaler has not observed that long). */
  seconds: number;
  /**
   * Average requests arriving per second: those answered plus the growth of those pending. Answers alone
   * cannot exceed what the instances serve, so a saturated service would hide its demand in its queue.
   */
  qps: number;
  /** Average concurrency (in flight + queued). */
  concurrency: number;
  /** Average over the seconds with samples of the summed CPU percent (of one core); undefined without any. */
  cpuPercent: number | undefined;
  /** Average instance samples per second, over the seconds with samples. */
  cpuInstances: number;
  /** Average backlog over the seconds that reported one; undefined when none did. */
  backlog: number | undefined;
  /** Nothing at all in the window: no request, nothing in flight or queued, no backlog. */
  idle: boolean;
}

const emptySecond = (): SecondLoad => ({ requests: 0, pending: 0, concurrency: 0, cpuPercent: 0, cpuSamples: 0, backlog: -1 });

/**
 * The last minutes of one service's load, second by second, in memory (samples are telemetry: a restarted
 * autoscaler starts a new history and waits for a full window before scaling in). Pure: times come in.
 */
export class LoadHistory {
  readonly #seconds = new Map<number, SecondLoad>();
  readonly #keepSeconds: number;
  /** The latest second (its start, in whole seconds) a gateway reported traffic for. */
  #latestTraffic: number | undefined;

  constructor(keepSeconds: number) {
    this.#keepSeconds = keepSeconds;
  }

  #second(atMs: number): SecondLoad {
    const key = Math.floor(atMs / 1000);
    let second = this.#seconds.get(key);
    if (!second) {
      second = emptySecond();
      this.#seconds.set(key, second);
    }
    return second;
  }

  /**
   * Adds one gateway's traffic for the second starting at `startMs` (several gateways add up): requests
   * answered, requests pending at the end of the second, and the concurrency estimate.
   */
  addTraffic(startMs: number, requests: number, concurrency: number, pending = 0): void {
    const second = this.#second(startMs);
    const key = Math.floor(startMs / 1000);
    if (this.#latestTraffic === undefined || key > this.#latestTraffic) this.#latestTraffic = key;
    second.requests += requests;
    second.pending += pending;
    second.concurrency += concurrency;
  }

  /** Adds one instance's CPU sample measured at `atMs`. */
  addCpu(atMs: number, cpuPercent: number): void {
    const second = this.#second(atMs);
    second.cpuPercent += cpuPercent;
    second.cpuSamples += 1;
  }

  /** Sets the backlog reported at `atMs` (a gauge: the latest report of a second wins). */
  setBacklog(atMs: number, backlog: number): void {
    this.#second(atMs).backlog = backlog;
  }

  /** Averages over the `seconds` whole seconds before `endMs` (a multiple of 1000: the end of the last closed second). */
  window(endMs: number, seconds: number): WindowLoad {
    const last = Math.floor(endMs / 1000) - 1;
    const first = last - seconds + 1;
    // Arrivals = answered + pending at the end - pending before the window (the sum telescopes).
    let requests = (this.#seconds.get(last)?.pending ?? 0) - (this.#seconds.get(first - 1)?.pending ?? 0);
    let concurrency = 0;
    let cpu = 0;
    let cpuSamples = 0;
    let cpuSeconds = 0;
    let backlog = 0;
    let backlogSeconds = 0;
    let idle = true;
    for (let key = first; key <= last; key++) {
      const second = this.#seconds.get(key);
      if (!second) continue;
      requests += second.requests;
      concurrency += second.concurrency;
      if (second.cpuSamples > 0) {
        cpu += second.cpuPercent;
        cpuSamples += second.cpuSamples;
        cpuSeconds++;
      }
      if (second.backlog >= 0) {
        backlog += second.backlog;
        backlogSeconds++;
      }
      if (second.requests > 0 || second.pending > 0 || second.concurrency > 0 || second.backlog > 0) idle = false;
    }
    return {
      seconds,
      qps: Math.max(0, requests) / seconds,
      concurrency: concurrency / seconds,
      cpuPercent: cpuSeconds > 0 ? cpu / cpuSeconds : undefined,
      cpuInstances: cpuSeconds > 0 ? cpuSamples / cpuSeconds : 0,
      backlog: backlogSeconds > 0 ? backlog / backlogSeconds : undefined,
      idle,
    };
  }

  /**
   * Where a decision at `nowMs` ends its windows: the end of the last closed second, or of the one before while
   * the gateways have reported that one but not yet the last. Their samples arrive just after their second
   * closes, so a decision made in between (the once-a-second tick) would otherwise read the last second as
   * idle and recommend half the count of the decision made a moment later on the same load. A lag of more than
   * a second is no lag: the gateways had nothing to report.
   */
  decisionEndMs(nowMs: number): number {
    const closedEndMs = Math.floor(nowMs / 1000) * 1000;
    const reportedEndMs = this.#latestTraffic === undefined ? undefined : (this.#latestTraffic + 1) * 1000;
    return reportedEndMs === closedEndMs - 1000 ? reportedEndMs : closedEndMs;
  }

  /** Forgets seconds older than the history keeps. */
  prune(nowMs: number): void {
    const oldest = Math.floor(nowMs / 1000) - this.#keepSeconds;
    for (const key of this.#seconds.keys()) if (key < oldest) this.#seconds.delete(key);
  }

  get size(): number {
    return this.#seconds.size;
  }
}

import type { MetricReading } from "@eas/proto";
import type { Logger } from "@eas/telemetry";
import { decideScale, freshMemory, type ScaleMode, type ScalerMemory } from "../domain/decide-scale.js";
import { LoadHistory } from "../domain/load-history.js";
import type { PolicyCommand } from "../domain/policy-decider.js";
import { cronFloor, readyCount, type AutoscalerView } from "../projections/autoscaler-view.js";
import type { ReplicaSetter } from "./deployer-client.js";

export interface ScalerDeps {
  view(): AutoscalerView;
  replicas: ReplicaSetter;
  /** Records a decision on the service's autoscaler stream (executeCommand). */
  record(service: string, command: PolicyCommand): Promise<void>;
  logger: Logger;
  /** Wall clock, ms. */
  now(): number;
  /** How many seconds of load to keep per service (the longest window any policy may use, and some). */
  keepSeconds: number;
}

/** What the API shows of a service's scaling right now. */
export interface ScalingSnapshot {
  mode: ScaleMode | "";
  readings: MetricReading[];
}

interface ServiceScaling {
  history: LoadHistory;
  memory: ScalerMemory;
  wokenAtMs: number;
  busy: boolean;
  again: boolean;
  /** The count asked of the deployer, until the log shows it. */
  expected: { replicas: number; untilMs: number } | undefined;
  snapshot: ScalingSnapshot;
}

/**
 * The scaling controller: folds samples into each service's load history (always, so a standby that takes
 * over has warm windows), and while this process is the active autoscaler decides on every new second of
 * load, on every wake from a gateway and once a second for scale-in: decide (pure), record the decision,
 * then ask the deployer. Decisions on one service take turns; a trigger during one runs it again after.
 */
export class Scaler {
  readonly #deps: ScalerDeps;
  readonly #services = new Map<string, ServiceScaling>();
  readonly #observingSinceMs: number;
  #active = false;

  constructor(deps: ScalerDeps) {
    this.#deps = deps;
    this.#observingSinceMs = Math.ceil(deps.now() / 1000) * 1000;
  }

  #of(service: string): ServiceScaling {
    let scaling = this.#services.get(service);
    if (!scaling) {
      scaling = {
        history: new LoadHistory(this.#deps.keepSeconds),
        memory: freshMemory(),
        wokenAtMs: 0,
        busy: false,
        again: false,
        expected: undefined,
        snapshot: { mode: "", readings: [] },
      };
      this.#services.set(service, scaling);
    }
    return scaling;
  }

  /** Whether this process decides (it holds the lease). A new active one starts with a fresh memory. */
  setActive(active: boolean): void {
    if (active && !this.#active) for (const scaling of this.#services.values()) scaling.memory = freshMemory();
    this.#active = active;
  }

  get active(): boolean {
    return this.#active;
  }

  /** One gateway's second of a service's traffic. */
  traffic(service: string, startMs: number, demand: { requests: number; pending: number; concurrency: number }): void {
    if (!(service in this.#deps.view())) return;
    this.#of(service).history.addTraffic(startMs, demand.requests, demand.concurrency, demand.pending);
    this.#trigger(service);
  }

  /** One instance's CPU sample (only Ready instances count: a starting process's CPU says nothing of load). */
  cpu(service: string, atMs: number, cpuPercent: number): void {
    if (!(service in this.#deps.view())) return;
    this.#of(service).history.addCpu(atMs, cpuPercent);
  }

  /** An async service's backlog. */
  backlog(service: string, atMs: number, backlog: number): void {
    if (!(service in this.#deps.view())) return;
    this.#of(service).history.setBacklog(atMs, backlog);
    this.#trigger(service);
  }

  /** A gateway holds requests for the service at zero: decide now. */
  wake(service: string): void {
    if (!(service in this.#deps.view())) return;
    this.#of(service).wokenAtMs = this.#deps.now();
    this.#trigger(service);
  }

  /** Once a second: every service with a policy (scale-in, idle services, CPU) and history pruning. */
  tick(): void {
    const view = this.#deps.view();
    const now = this.#deps.now();
    for (const [service, scaling] of this.#services) {
      if (!(service in view)) this.#services.delete(service);
      else scaling.history.prune(now);
    }
    for (const [service, scaled] of Object.entries(view)) if (scaled.policy) this.#trigger(service);
  }

  snapshot(service: string): ScalingSnapshot {
    return this.#services.get(service)?.snapshot ?? { mode: "", readings: [] };
  }

  /** The count the deployer holds, or the one just asked of it while the log has not shown it yet. */
  current(service: string): number | undefined {
    const scaled = this.#deps.view()[service];
    if (!scaled) return undefined;
    const expected = this.#services.get(service)?.expected;
    if (expected && expected.replicas !== scaled.desiredReplicas && this.#deps.now() < expected.untilMs) return expected.replicas;
    return scaled.desiredReplicas;
  }

  #trigger(service: string): void {
    if (!this.#active) return;
    const scaling = this.#of(service);
    if (scaling.busy) {
      scaling.again = true;
      return;
    }
    scaling.busy = true;
    void (async () => {
      try {
        do {
          scaling.again = false;
          await this.#decide(service, scaling);
        } while (scaling.again && this.#active);
      } catch (error) {
        this.#deps.logger.warn({ err: error, service }, "scaling decision failed; the next second decides again");
      } finally {
        scaling.busy = false;
      }
    })();
  }

  async #decide(service: string, scaling: ServiceScaling): Promise<void> {
    const scaled = this.#deps.view()[service];
    if (!scaled?.policy || scaled.stopped) return;
    const now = this.#deps.now();
    const current = this.current(service)!;
    const decision = decideScale(
      {
        policy: scaled.policy,
        history: scaling.history,
        current,
        ready: readyCount(scaled),
        cpuCoresPerInstance: scaled.cpuCores,
        cronFloor: cronFloor(scaled),
        nowMs: scaling.history.decisionEndMs(now),
        observingSinceMs: this.#observingSinceMs,
        wokenAtMs: scaling.wokenAtMs,
      },
      scaling.memory,
    );
    scaling.memory = decision.memory;
    scaling.snapshot = { mode: decision.mode, readings: decision.readings };
    if (decision.desired === current) return;
    await this.#deps.record(service, {
      type: "RecordDecision",
      service,
      from: current,
      to: decision.desired,
      mode: decision.mode,
      reason: decision.reason,
      inputs: decision.readings,
      ready: readyCount(scaled),
      now: new Date(now).toISOString(),
    });
    scaling.expected = { replicas: decision.desired, untilMs: now + 10_000 };
    this.#deps.logger.info({ service, from: current, to: decision.desired, mode: decision.mode, reason: decision.reason }, "scaling");
    try {
      const held = await this.#deps.replicas.scale(service, decision.desired, "autoscaler", decision.reason);
      scaling.expected = { replicas: held, untilMs: this.#deps.now() + 10_000 };
    } catch (error) {
      scaling.expected = undefined;
      throw error;
    }
  }
}

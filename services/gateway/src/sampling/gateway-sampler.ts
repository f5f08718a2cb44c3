import { TrafficRecorder } from "@eas/metrics";
import type { GatewaySample, InstanceTraffic, TrafficStats } from "@eas/proto";

/** Requests in flight and queued in this gateway for one service, at one moment. */
export interface ServiceLoad {
  service: string;
  queued: number;
  /** Instances with requests in flight. */
  instances: { id: string; inFlight: number }[];
}

export interface GatewaySamplerOptions {
  /** This gateway process, so that the monitor sums several gateways' samples. */
  source: string;
  /** Sends one sample (the app: `bus.publish(gatewaySamples.with(sample.service), sample)`). */
  publish(sample: GatewaySample): void;
  /** Services with requests in flight or queued right now (a long request counts before it ends). */
  load(): Iterable<ServiceLoad>;
  /** The version an instance runs (asked once per instance and second it is seen). */
  versionOf(service: string, instanceId: string): number;
  /** Wall clock in ms; samples are stamped with whole seconds of it. */
  now?: () => number;
  /** A service that sent nothing for this long is forgotten (its recorders freed); default 60 s. */
  forgetAfterMs?: number;
}

interface InstanceRecorder {
  version: number;
  recorder: TrafficRecorder;
}

interface ServiceRecorders {
  /** Requests the gateway answered itself, without an instance (401, 413, 429, 450, 503). */
  unrouted: TrafficRecorder;
  instances: Map<string, InstanceRecorder>;
  lastActiveMs: number;
}

const newRecorders = (nowMs: number): ServiceRecorders => ({ unrouted: new TrafficRecorder(), instances: new Map(), lastActiveMs: nowMs });

/**
 * Counts the gateway's traffic per service, version and instance, and publishes one GatewaySample per
 * second for each service that had traffic (answered, in flight or queued) on
 * `eas.metrics.gateway.<service>`. Idle services cost nothing. {@link record} is on the request path: it
 * adds to one instance's counters and HDR histogram, allocation-free once the instance has been seen;
 * the version and service totals are merged from the instances once a second.
 */
export class GatewaySampler {
  readonly #options: GatewaySamplerOptions;
  readonly #now: () => number;
  readonly #services = new Map<string, ServiceRecorders>();
  #intervalStartMs: number;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: GatewaySamplerOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#intervalStartMs = Math.floor(this.#now() / 1000) * 1000;
  }

  /** One answered request. `instanceId` is empty when the gateway answered it itself (401, 429, 450, 503...). */
  record(service: string, instanceId: string, statusCode: number, latencyMs: number, bytesIn: number, bytesOut: number): void {
    // A request is counted in the second it ended, even when the timer that closes seconds runs late.
    if (this.#now() >= this.#intervalStartMs + 1000) this.flush();
    let recorders = this.#services.get(service);
    if (!recorders) {
      recorders = newRecorders(0);
      this.#services.set(service, recorders);
    }
    if (!instanceId) {
      recorders.unrouted.record(statusCode, latencyMs * 1000, bytesIn, bytesOut);
      return;
    }
    let instance = recorders.instances.get(instanceId);
    if (!instance) {
      instance = { version: this.#options.versionOf(service, instanceId), recorder: new TrafficRecorder() };
      recorders.instances.set(instanceId, instance);
    }
    instance.recorder.record(statusCode, latencyMs * 1000, bytesIn, bytesOut);
  }

  /** Ends the current second once it is over: builds and publishes its samples, starts the next. Returns what it published. */
  flush(): GatewaySample[] {
    const startMs = this.#intervalStartMs;
    const nowMs = this.#now();
    if (nowMs < startMs + 1000) return [];
    this.#intervalStartMs = Math.floor(nowMs / 1000) * 1000;
    const loads = new Map<string, ServiceLoad>();
    for (const load of this.#options.load()) loads.set(load.service, load);

    const samples: GatewaySample[] = [];
    for (const [service, recorders] of this.#services) {
      const load = loads.get(service);
      loads.delete(service);
      if (!answeredAny(recorders) && !load) {
        if (nowMs - recorders.lastActiveMs > (this.#options.forgetAfterMs ?? 60_000)) this.#services.delete(service);
        continue;
      }
      recorders.lastActiveMs = nowMs;
      samples.push(this.#sample(service, startMs, recorders, load));
    }
    // Services with requests in flight or queued, none of them answered yet.
    for (const [service, load] of loads) {
      const recorders = newRecorders(nowMs);
      this.#services.set(service, recorders);
      samples.push(this.#sample(service, startMs, recorders, load));
    }
    for (const sample of samples) this.#options.publish(sample);
    return samples;
  }

  /** Flushes at every whole second of the wall clock (and requests flush a second that is over). */
  start(): void {
    const schedule = () => {
      const nowMs = this.#now();
      this.#timer = setTimeout(tick, Math.floor(nowMs / 1000) * 1000 + 1000 - nowMs);
      this.#timer.unref();
    };
    const tick = () => {
      this.flush();
      schedule();
    };
    schedule();
  }

  stop(): void {
    clearTimeout(this.#timer);
  }

  #sample(service: string, startMs: number, recorders: ServiceRecorders, load: ServiceLoad | undefined): GatewaySample {
    const inFlightOf = new Map((load?.instances ?? []).map((instance) => [instance.id, instance.inFlight]));
    const byVersion = new Map<number, TrafficRecorder[]>();
    for (const [id, instance] of recorders.instances) {
      if (instance.recorder.requests === 0 && !inFlightOf.get(id)) {
        recorders.instances.delete(id);
        continue;
      }
      if (instance.recorder.requests === 0) continue;
      const group = byVersion.get(instance.version);
      if (group) group.push(instance.recorder);
      else byVersion.set(instance.version, [instance.recorder]);
    }
    // Totals are merged before the instances' recorders are flushed (reset).
    const total = TrafficRecorder.combined([recorders.unrouted, ...[...recorders.instances.values()].map((i) => i.recorder)]);
    const versions: Record<number, TrafficStats> = {};
    for (const [version, group] of byVersion) versions[version] = TrafficRecorder.combined(group);
    const instances: Record<string, InstanceTraffic> = {};
    for (const [id, instance] of recorders.instances) {
      instances[id] = { version: instance.version, traffic: instance.recorder.flush(), inFlight: inFlightOf.get(id) ?? 0 };
    }
    for (const [id, inFlight] of inFlightOf) {
      if (!instances[id] && inFlight > 0) {
        instances[id] = { version: this.#options.versionOf(service, id), traffic: new TrafficRecorder().flush(), inFlight };
      }
    }
    recorders.unrouted.flush();
    let inFlight = 0;
    for (const count of inFlightOf.values()) inFlight += count;
    return {
      service,
      source: this.#options.source,
      startMs,
      durationMs: 1000,
      total,
      versions,
      instances,
      inFlight,
      queued: load?.queued ?? 0,
    };
  }
}

function answeredAny(recorders: ServiceRecorders): boolean {
  if (recorders.unrouted.requests > 0) return true;
  for (const instance of recorders.instances.values()) if (instance.recorder.requests > 0) return true;
  return false;
}

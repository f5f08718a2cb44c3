import { encodeGatewaySample, gatewaySampleSubject, TrafficRecorder } from "@eas/metrics";
import type { GatewaySample, InstanceTraffic } from "@eas/proto";

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
  publish(subject: string, payload: Uint8Array): void;
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
  total: TrafficRecorder;
  versions: Map<number, TrafficRecorder>;
  instances: Map<string, InstanceRecorder>;
  lastActiveMs: number;
}

/**
 * Counts the gateway's traffic per service, version and instance, and publishes one GatewaySample per
 * second for each service that had traffic (answered, in flight or queued) on
 * `eas.metrics.gateway.<service>`. Idle services cost nothing. {@link record} is on the request path:
 * it only adds to counters and an HDR histogram, allocation-free once a service has been seen.
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
  record(
    service: string,
    instanceId: string,
    statusCode: number,
    latencyMs: number,
    bytesIn: number,
    bytesOut: number,
  ): void {
    // A request is counted in the second it ended, even when the timer that closes seconds runs late.
    if (this.#now() >= this.#intervalStartMs + 1000) this.flush();
    let recorders = this.#services.get(service);
    if (!recorders) {
      recorders = { total: new TrafficRecorder(), versions: new Map(), instances: new Map(), lastActiveMs: 0 };
      this.#services.set(service, recorders);
    }
    const latencyUs = latencyMs * 1000;
    recorders.total.record(statusCode, latencyUs, bytesIn, bytesOut);
    if (!instanceId) return;
    let instance = recorders.instances.get(instanceId);
    if (!instance) {
      instance = { version: this.#options.versionOf(service, instanceId), recorder: new TrafficRecorder() };
      recorders.instances.set(instanceId, instance);
    }
    instance.recorder.record(statusCode, latencyUs, bytesIn, bytesOut);
    let forVersion = recorders.versions.get(instance.version);
    if (!forVersion) {
      forVersion = new TrafficRecorder();
      recorders.versions.set(instance.version, forVersion);
    }
    forVersion.record(statusCode, latencyUs, bytesIn, bytesOut);
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
      if (recorders.total.requests === 0 && !load) {
        if (nowMs - recorders.lastActiveMs > (this.#options.forgetAfterMs ?? 60_000)) this.#services.delete(service);
        continue;
      }
      recorders.lastActiveMs = nowMs;
      samples.push(this.#sample(service, startMs, recorders, load));
    }
    // Services with requests in flight or queued but none answered yet in this gateway's memory.
    for (const [service, load] of loads) {
      const recorders: ServiceRecorders = { total: new TrafficRecorder(), versions: new Map(), instances: new Map(), lastActiveMs: nowMs };
      this.#services.set(service, recorders);
      samples.push(this.#sample(service, startMs, recorders, load));
    }
    for (const sample of samples) this.#options.publish(gatewaySampleSubject(sample.service), encodeGatewaySample(sample));
    return samples;
  }

  /** Flushes at every whole second of the wall clock. */
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
    const inFlightOf = new Map((load?.instances ?? []).map((instance) => [instance.id, instance]));
    const instances: Record<string, InstanceTraffic> = {};
    for (const [id, instance] of recorders.instances) {
      const inFlight = inFlightOf.get(id)?.inFlight ?? 0;
      if (instance.recorder.requests === 0 && inFlight === 0) {
        recorders.instances.delete(id);
        continue;
      }
      instances[id] = { version: instance.version, traffic: instance.recorder.flush(), inFlight };
    }
    for (const { id, inFlight } of inFlightOf.values()) {
      if (!instances[id] && inFlight > 0)
        instances[id] = { version: this.#options.versionOf(service, id), traffic: new TrafficRecorder().flush(), inFlight };
    }
    const versions: GatewaySample["versions"] = {};
    for (const [version, recorder] of recorders.versions) {
      if (recorder.requests === 0) recorders.versions.delete(version);
      else versions[version] = recorder.flush();
    }
    let inFlight = 0;
    for (const instance of inFlightOf.values()) inFlight += instance.inFlight;
    return {
      service,
      source: this.#options.source,
      startMs,
      durationMs: 1000,
      total: recorders.total.flush(),
      versions,
      instances,
      inFlight,
      queued: load?.queued ?? 0,
    };
  }
}

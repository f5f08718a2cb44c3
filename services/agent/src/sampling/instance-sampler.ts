import type { InstanceSample } from "@eas/proto";

/** CPU and memory of one running instance, as the agent's supervisor measures them. */
export interface InstanceUsage {
  instanceId: string;
  service: string;
  version?: number;
  cpuPercent: number;
  memoryBytes: number;
}

export interface InstanceSamplerOptions {
  nodeId: string;
  usage(): Promise<InstanceUsage[]>;
  /** Sends one sample (the app: `bus.publish(instanceSamples.with(service, instanceId), sample)`). */
  publish(sample: InstanceSample): void;
  onError(error: unknown): void;
  intervalMs?: number;
  now?: () => number;
}

/**
 * Publishes each running instance's CPU and memory every second on
 * `eas.metrics.instance.<service>.<instance_id>` (InstanceSample, protobuf), for the monitor. A
 * measurement still running when the next is due is not doubled up: that second is skipped.
 */
export function startInstanceSampler(options: InstanceSamplerOptions): { stop(): void } {
  const now = options.now ?? Date.now;
  let measuring = false;
  const timer = setInterval(() => {
    if (measuring) return;
    measuring = true;
    const atMs = now();
    options
      .usage()
      .then((rows) => {
        for (const row of rows) {
          const sample: InstanceSample = {
            service: row.service,
            instanceId: row.instanceId,
            version: row.version ?? 0,
            nodeId: options.nodeId,
            atMs,
            cpuPercent: row.cpuPercent,
            memoryBytes: Math.round(row.memoryBytes),
          };
          options.publish(sample);
        }
      })
      .catch(options.onError)
      .finally(() => (measuring = false));
  }, options.intervalMs ?? 1_000);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}

import { Gauge, type Registry } from "prom-client";
import type { InstanceSupervisor } from "../instances/supervisor.js";

/**
 * Samples the CPU and memory of every instance every `intervalMs` (default 5 s) into the gauges
 * `eas_instance_cpu_percent` and `eas_instance_memory_bytes` of `registry`, labelled `instance_id` (Prometheus
 * keeps `instance` for the scrape target) and `service`. Returns a stop function.
 */
export function startInstanceMetrics(supervisor: Pick<InstanceSupervisor, "stats">, registry: Registry, intervalMs = 5_000): () => void {
  const cpu = new Gauge({
    name: "eas_instance_cpu_percent",
    help: "CPU of an instance's processes, percent of one core",
    labelNames: ["instance_id", "service"],
    registers: [registry],
  });
  const memory = new Gauge({
    name: "eas_instance_memory_bytes",
    help: "Resident memory of an instance's processes",
    labelNames: ["instance_id", "service"],
    registers: [registry],
  });
  const sample = setInterval(() => {
    void supervisor.stats().then((rows) => {
      cpu.reset();
      memory.reset();
      for (const row of rows) {
        cpu.set({ instance_id: row.instanceId, service: row.service }, row.cpuPercent);
        memory.set({ instance_id: row.instanceId, service: row.service }, row.memoryBytes);
      }
    });
  }, intervalMs);
  return () => clearInterval(sample);
}

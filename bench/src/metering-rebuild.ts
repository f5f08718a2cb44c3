/**
 * Metering throughput: how fast the billing's `metering` projection folds the log, rebuilt from zero by the
 * real projection runner on the JetStream adapter, next to peers measured in the same run on the same log:
 *   - a raw read of the log (`store.readAll()` without a runner): the floor the adapter sets;
 *   - the runner with a projection that only counts the events reaching evolve ("count only");
 *   - the same metering rebuild on the in-memory adapter holding the same events: the fold's own cost.
 * Then what a bill costs on the rebuilt state (the month by class, and by instance) and the size of the
 * projection's snapshot (what its checkpoint holds).
 *
 *   node --max-old-space-size=8192 --conditions=source --import tsx bench/src/metering-rebuild.ts [instance-events] \
 *     [--services=2000] [--nodes=30] [--writers=64] [--runs=3] [--deadline-s=1500]
 *
 * Instance events default to 1,000,000 (or EAS_BENCH_EVENTS). Starts its own nats-server in a temporary
 * folder. The log is a month of a cluster: nodes register with rates (public, dedicated, spot), services are
 * created, and instances live their lives as the real writers record them: Scheduled, Starting, Ready,
 * Draining, Stopped; one in ten crashes instead (Starting, Exited, Starting, Failed); those left at the end
 * still run. Filling the log is not measured. Runs interleave; medians are reported.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { cpus, loadavg } from "node:os";
import { computeBill, meteringProjection, type MeterState } from "@eas/billing";
import { connectJetStreamEventStore, InMemoryEventStore, type EventStore, type NewEvent } from "@eas/event-store";
import { event, instanceStream, nodeStream, serviceStream, toNewEvent, type EasEvent } from "@eas/events";
import { createProjectionRunner, InMemoryCheckpointStore, type Projection } from "@eas/projections";
import { ServiceSpec } from "@eas/proto";
import { mulberry32, startNatsServer, type NatsServerHandle } from "@eas/testing";

interface Settings {
  events: number;
  services: number;
  nodes: number;
  writers: number;
  runs: number;
  deadlineS: number;
}

function settings(argv: string[]): Settings {
  const flag = (name: string) => argv.find((arg) => arg.startsWith(`--${name}=`))?.split("=")[1];
  const positional = argv.find((arg) => /^\d+$/.test(arg));
  const parsed: Settings = {
    events: Number(positional ?? flag("events") ?? process.env.EAS_BENCH_EVENTS ?? 1_000_000),
    services: Number(flag("services") ?? 2_000),
    nodes: Number(flag("nodes") ?? 30),
    writers: Number(flag("writers") ?? 64),
    runs: Number(flag("runs") ?? 3),
    deadlineS: Number(flag("deadline-s") ?? 1_500),
  };
  for (const [name, value] of Object.entries(parsed)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${value}`);
  }
  return parsed;
}

interface Planned {
  stream: string;
  event: NewEvent;
}

const MONTH_START = Date.parse("2026-12-01T00:00:00Z");
const MONTH_MS = 30 * 24 * 3_600_000;

function planned(stream: string, e: EasEvent, time: number): Planned {
  return { stream, event: toNewEvent(e, randomUUID(), { source: "eas/bench" }, new Date(time)) };
}

/** Nodes and services first, then `events` instance events in lifecycles; grouped by stream for the writers. */
function planLog(config: Settings): { setup: Planned[]; lifecycles: Planned[][]; instanceEvents: number } {
  const random = mulberry32(20261201);
  const setup: Planned[] = [];
  const nodes = Array.from({ length: config.nodes }, (_, i) => {
    const kind = i % 3 === 0 ? "dedicated" : i % 3 === 1 ? "public" : "spot";
    const nodeId = `node-${i}`;
    const rates = {
      dedicated: { cpuCoreHourMicros: 30_000, memoryGibHourMicros: 4_000, gpuHourMicros: 900_000 },
      public: { cpuCoreHourMicros: 40_000, memoryGibHourMicros: 5_000, gpuHourMicros: 1_200_000 },
      spot: { cpuCoreHourMicros: 12_000, memoryGibHourMicros: 1_500, gpuHourMicros: 360_000 },
    }[kind];
    setup.push(
      planned(
        nodeStream(nodeId),
        event("NodeRegistered", {
          nodeId,
          capacity: { cpuMillis: 64_000, memoryMib: 262_144, gpu: 8, gpuType: "A10", gpuMemoryGib: 0 },
          resourceGroup: kind === "dedicated" ? "team-a" : "",
          spot: kind === "spot",
          pricePerHour: 0,
          agentAddress: `10.0.0.${i}:7000`,
          labels: {},
          at: new Date(MONTH_START).toISOString(),
          rates,
        }),
        MONTH_START,
      ),
    );
    return { nodeId, kind };
  });
  for (let s = 0; s < config.services; s++) {
    const name = `svc_${s}`;
    setup.push(
      planned(
        serviceStream(name),
        event("ServiceCreated", {
          name,
          spec: ServiceSpec.fromPartial({ name, instance: 2 }),
          version: 1,
          token: "",
          tokenSha256: "",
          createdAt: new Date(MONTH_START).toISOString(),
        }),
        MONTH_START,
      ),
    );
  }

  const lifecycles: Planned[][] = [];
  let instanceEvents = 0;
  for (let n = 0; instanceEvents < config.events; n++) {
    const service = `svc_${n % config.services}`;
    const node = nodes[Math.floor(random() * nodes.length)]!;
    const instanceId = `${service.replace("_", "-")}-${n.toString(36)}`;
    const resources = {
      cpuMillis: 1000 * (1 + Math.floor(random() * 4)),
      memoryMib: 1024 * (1 + Math.floor(random() * 8)),
      gpu: random() < 0.1 ? 1 : 0,
      gpuType: "",
      gpuMemoryGib: 0,
    };
    let clock = MONTH_START + Math.floor(random() * MONTH_MS);
    const at = (stepMs: number) => (clock += stepMs);
    const stream = instanceStream(instanceId);
    const events: Planned[] = [];
    const push = (e: EasEvent, time: number) => events.push(planned(stream, e, time));
    let t = at(0);
    push(
      event("InstanceScheduled", {
        instanceId,
        service,
        version: 1,
        nodeId: node.nodeId,
        resources,
        pool: node.kind === "dedicated" ? "dedicated" : "public",
        spot: node.kind === "spot",
        at: new Date(t).toISOString(),
      }),
      t,
    );
    t = at(1_000);
    push(event("InstanceStarting", { instanceId, service, nodeId: node.nodeId, restartCount: 0, at: new Date(t).toISOString() }), t);
    const remaining = config.events - instanceEvents;
    if (random() < 0.1 && remaining >= 4) {
      t = at(3_000);
      push(
        event("InstanceExited", {
          instanceId,
          service,
          exitCode: 1,
          signal: "",
          reason: "exit 1",
          restartCount: 1,
          at: new Date(t).toISOString(),
        }),
        t,
      );
      t = at(2_000);
      push(event("InstanceStarting", { instanceId, service, nodeId: node.nodeId, restartCount: 1, at: new Date(t).toISOString() }), t);
    }
    t = at(5_000);
    push(
      event("InstanceReady", {
        instanceId,
        service,
        version: 1,
        nodeId: node.nodeId,
        endpoint: "10.0.0.1:9000",
        at: new Date(t).toISOString(),
      }),
      t,
    );
    t = at(Math.floor(random() * 3 * 24 * 3_600_000));
    push(event("InstanceDraining", { instanceId, service, at: new Date(t).toISOString() }), t);
    t = at(30_000);
    push(event("InstanceStopped", { instanceId, service, nodeId: node.nodeId, reason: "scaled in", at: new Date(t).toISOString() }), t);
    const kept = events.slice(0, Math.min(events.length, config.events - instanceEvents));
    instanceEvents += kept.length;
    lifecycles.push(kept);
  }
  return { setup, lifecycles, instanceEvents };
}

async function fill(store: EventStore, groups: Planned[][], writers: number): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(writers, groups.length) }, async () => {
      while (next < groups.length) {
        for (const { stream, event: e } of groups[next++]!) await store.append(stream, [e], { expectedRevision: "any" });
      }
    }),
  );
}

/** Copies the JetStream log into the memory store in log order, same ids, data and times. */
async function mirror(from: EventStore, to: EventStore): Promise<void> {
  for await (const e of from.readAll()) {
    await to.append(e.stream, [{ id: e.id, type: e.type, data: e.data, metadata: e.metadata, time: e.time }], { expectedRevision: "any" });
  }
}

async function rawRead(store: EventStore): Promise<{ seconds: number; events: number }> {
  const started = performance.now();
  let events = 0;
  for await (const _ of store.readAll()) events++;
  return { seconds: (performance.now() - started) / 1000, events };
}

const countingProjection: Projection<number> = {
  name: "bench-count",
  version: 1,
  categories: meteringProjection.categories!,
  initialState: () => 0,
  evolve: (count) => count + 1,
};

async function rebuild<State>(store: EventStore, projection: Projection<State>) {
  const started = performance.now();
  const runner = createProjectionRunner({
    store,
    projection,
    checkpoints: new InMemoryCheckpointStore(),
    onError: (error) => console.error(error),
  });
  await runner.start();
  await runner.caughtUp;
  const seconds = (performance.now() - started) / 1000;
  const { eventsApplied, position } = runner.status();
  const state = runner.state;
  await runner.stop();
  return { seconds, events: eventsApplied, position, state };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
const fmt = (value: number, digits = 2) => value.toFixed(digits);
const load = () =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(" ");

async function main(): Promise<void> {
  const config = settings(process.argv.slice(2));
  let nats: NatsServerHandle | undefined;
  let jetstream: EventStore | undefined;
  const memory = new InMemoryEventStore();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the benchmark ran past its ${config.deadlineS} s deadline`)), config.deadlineS * 1000);
  });
  deadline.catch(() => undefined);
  const bounded = <T>(work: Promise<T>): Promise<T> => Promise.race([work, deadline]);
  const cleanup = async () => {
    clearTimeout(timer);
    await jetstream?.close().catch(() => undefined);
    await memory.close().catch(() => undefined);
    await nats?.stop().catch(() => undefined);
  };
  const onSignal = () => void cleanup().finally(() => process.exit(130));
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  try {
    const started = performance.now();
    const plan = planLog(config);
    const total = plan.setup.length + plan.instanceEvents;
    console.log(
      `metering bench: ${plan.instanceEvents} instance events (${plan.lifecycles.length} instances) + ${plan.setup.length} node and service events; ` +
        `${config.runs} runs each; node ${process.version}, ${cpus().length} CPUs, load average ${load()}`,
    );
    nats = await bounded(startNatsServer());
    jetstream = await bounded(connectJetStreamEventStore({ servers: nats.url, connectionName: "bench-metering" }));
    const fillStarted = performance.now();
    await bounded(fill(jetstream, [plan.setup], 1));
    await bounded(fill(jetstream, plan.lifecycles, config.writers));
    const head = await jetstream.headPosition();
    assert.equal(head, total, "every planned event is in the JetStream log");
    const instances = plan.lifecycles.length;
    plan.lifecycles.length = 0; // the log holds them now; free the plan before the memory store copies the log
    const fillSeconds = (performance.now() - fillStarted) / 1000;
    console.log(
      `filled JetStream: ${head} events in ${fmt(fillSeconds, 1)} s (${Math.round(head / fillSeconds)} events/s; not measured below)`,
    );
    await bounded(mirror(jetstream, memory));
    assert.equal(await memory.headPosition(), head, "the memory store holds the same log");

    const work: { label: string; adapter: string; run: () => Promise<{ seconds: number; events: number }> }[] = [];
    const meters: Record<string, MeterState> = {};
    for (const [adapter, store] of [
      ["jetstream", jetstream],
      ["memory", memory],
    ] as const) {
      work.push({ label: "raw read", adapter, run: () => rawRead(store) });
      if (adapter === "jetstream") work.push({ label: "count only", adapter, run: () => rebuild(store, countingProjection) });
      work.push({
        label: "metering rebuild",
        adapter,
        run: async () => {
          const result = await rebuild(store, meteringProjection);
          assert.equal(result.position, total, `${adapter}: the rebuild reached the head`);
          meters[adapter] = result.state;
          return result;
        },
      });
    }
    const results = work.map((w) => ({ ...w, seconds: [] as number[], events: 0 }));
    for (let run = 0; run < config.runs; run++) {
      const line: string[] = [];
      for (const result of results) {
        const measured = await bounded(result.run());
        result.seconds.push(measured.seconds);
        result.events = measured.events;
        line.push(`${result.adapter} ${result.label} ${fmt(measured.seconds)} s`);
      }
      console.log(`  run ${run + 1}: ${line.join(", ")} (load ${load()})`);
    }

    const meter = meters.jetstream!;
    assert.equal(Object.keys(meter.intervals).length, instances, "one interval per instance");
    const month = { fromMs: MONTH_START, toMs: MONTH_START + 31 * 24 * 3_600_000, nowMs: MONTH_START + 31 * 24 * 3_600_000 };
    const jsBill = computeBill(meter, { ...month, by: "class" });
    assert.equal(
      jsBill.total.costMicros,
      computeBill(meters.memory!, { ...month, by: "class" }).total.costMicros,
      "both adapters bill the same",
    );
    const timed = (fn: () => unknown) => {
      const t0 = performance.now();
      fn();
      return performance.now() - t0;
    };
    const billMs = timed(() => computeBill(meter, { ...month, by: "class" }));
    const byInstanceMs = timed(() => computeBill(meter, { ...month, by: "instance" }));
    const oneServiceMs = timed(() => computeBill(meter, { ...month, service: "svc_7", by: "hour" }));
    const snapshotBytes = Buffer.byteLength(JSON.stringify(meteringProjection.toSnapshot!(meter)));

    const med = (adapter: string, label: string) => median(results.find((r) => r.adapter === adapter && r.label === label)!.seconds);
    console.log(`\nresults (median of ${config.runs}; events/s = events reaching the runner / median seconds):`);
    console.table(
      results.map((r) => {
        const s = median(r.seconds);
        return {
          adapter: r.adapter,
          what: r.label,
          events: r.events,
          "seconds (median)": fmt(s, 3),
          "min s": fmt(Math.min(...r.seconds), 3),
          "max s": fmt(Math.max(...r.seconds), 3),
          "events/s": Math.round(r.events / s),
          "vs raw read (same adapter)": `x${fmt(s / med(r.adapter, "raw read"))}`,
        };
      }),
    );
    console.log(
      `bill of the month on the rebuilt state (${instances} intervals, total ${jsBill.total.costMicros} micro-units): ` +
        `by class ${fmt(billMs, 1)} ms, by instance ${fmt(byInstanceMs, 1)} ms, one service by hour ${fmt(oneServiceMs, 1)} ms; ` +
        `snapshot ${fmt(snapshotBytes / 1024 / 1024)} MiB of JSON`,
    );
    console.log(
      `summary: jetstream metering rebuild of ${total} events in ${fmt(med("jetstream", "metering rebuild"), 3)} s = ` +
        `${Math.round(total / med("jetstream", "metering rebuild"))} events/s; raw read ${fmt(med("jetstream", "raw read"), 3)} s ` +
        `(x${fmt(med("jetstream", "metering rebuild") / med("jetstream", "raw read"))}); memory metering rebuild ${fmt(med("memory", "metering rebuild"), 3)} s; ` +
        `total run ${fmt((performance.now() - started) / 1000, 1)} s; load average ${load()}`,
    );
  } finally {
    await cleanup();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
}
process.exit();

/**
 * Projection rebuild: how long a service process takes to rebuild a read model from the whole event log,
 * with the real projection runner and a real projection (`serviceCatalogProjection`, a catalog of the
 * services shaped like the read models services keep), on the JetStream adapter, next to two peers measured in the same run:
 *   - a raw read of the same log (`store.readAll()` without evolve): the floor set by the adapter;
 *   - the in-memory adapter holding the same events at the same positions: the cost of the runner and
 *     the projection alone;
 *   - on both adapters, the same runner with a projection that only counts the events reaching evolve
 *     ("count only"): the runner and subscription without the catalog's own work.
 * Then a resume: a runner that starts from a checkpoint after `--resume` more events were appended.
 *
 *   node --conditions=source --import tsx bench/src/projection-rebuild.ts [events] \
 *     [--services=1000] [--writers=64] [--runs=3] [--resume=1000] [--deadline-s=170]
 *
 * Events default to 100,000 (or EAS_BENCH_EVENTS). Starts its own nats-server in a temporary folder.
 * The log is the lifecycle of `--services` services, each as the real services write it: ServiceCreated
 * and ServiceScaled in "service-<name>", and per instance InstanceScheduled, InstanceStarting,
 * InstanceReady, then InstanceDraining and InstanceStopped on a scale-down, in "instance-<id>". Filling the
 * log (parallel appends, one writer per service at a time) is not part of the measurement. Each timed run
 * is a fresh runner with an empty checkpoint store, i.e. what a restarting process without a usable
 * checkpoint does; the runs of all four measurements interleave and the median of `--runs` is reported. The whole run is bounded by `--deadline-s`,
 * and the nats-server is stopped on every exit path (error, deadline, Ctrl-C).
 */
import { randomBytes, randomUUID } from "node:crypto";
import assert from "node:assert/strict";
import { cpus, loadavg } from "node:os";
import { connectJetStreamEventStore, InMemoryEventStore, type EventStore, type NewEvent } from "@eas/event-store";
import { event, instanceStream, serviceStream, toNewEvent, type EasEvent } from "@eas/events";
import { createProjectionRunner, InMemoryCheckpointStore, type CheckpointStore, type Projection } from "@eas/projections";
import { ServiceSpec } from "@eas/proto";
import { startNatsServer, type NatsServerHandle } from "@eas/testing";
import { serviceCatalogProjection, type ServiceCatalog } from "./service-catalog-projection.js";

interface Settings {
  events: number;
  services: number;
  writers: number;
  runs: number;
  resume: number;
  deadlineS: number;
}

function settings(argv: string[]): Settings {
  const flag = (name: string) => argv.find((arg) => arg.startsWith(`--${name}=`))?.split("=")[1];
  const positional = argv.find((arg) => /^\d+$/.test(arg));
  const parsed: Settings = {
    events: Number(positional ?? flag("events") ?? process.env.EAS_BENCH_EVENTS ?? 100_000),
    services: Number(flag("services") ?? 1_000),
    writers: Number(flag("writers") ?? 64),
    runs: Number(flag("runs") ?? 3),
    resume: Number(flag("resume") ?? 1_000),
    deadlineS: Number(flag("deadline-s") ?? 170),
  };
  for (const [name, value] of Object.entries(parsed)) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${value}`);
  }
  if (parsed.services > parsed.events) throw new Error(`services (${parsed.services}) must not exceed events (${parsed.events})`);
  return parsed;
}

/** One event to append, with the stream it belongs to. */
interface Planned {
  stream: string;
  event: NewEvent;
}

const BASE_TIME = Date.parse("2025-01-01T00:00:00Z");
const NODES = 20;

/**
 * The endless lifecycle of one service: created with 2 replicas, then autoscaled up and down by one
 * replica at a time. Yields the events in the order the real writers append them.
 */
function* lifecycle(index: number): Generator<Planned> {
  const name = `svc_${String(index).padStart(5, "0")}`;
  let clock = BASE_TIME + index * 1_000;
  const at = () => new Date((clock += 250 + (index % 7) * 10));
  const planned = (stream: string, e: EasEvent, time: Date): Planned => ({
    stream,
    event: toNewEvent(e, randomUUID(), { source: "eas/bench" }, time),
  });
  const resources = { cpuMillis: 1000, memoryMib: 2048, gpu: 0, gpuType: "", gpuMemoryGib: 0 };
  const spec = ServiceSpec.fromPartial({
    name,
    instance: 2,
    resources,
    rpc: { keepaliveMs: 5000, maxConcurrency: 8, maxQueueSize: 64, rateLimit: 0 },
    runtime: { $case: "processor", value: { name: "onnx", modelPath: `obj://models/${name}.onnx`, configJson: "{}" } },
    labels: { team: `team_${index % 13}` },
  });
  const created = at();
  yield planned(
    serviceStream(name),
    event("ServiceCreated", {
      name,
      spec,
      version: 1,
      token: "",
      createdAt: created.toISOString(),
      tokenSha256: randomBytes(32).toString("hex"),
    }),
    created,
  );

  const running: { id: string; nodeId: string }[] = [];
  function* startInstance(): Generator<Planned> {
    const id = `${name.replace(/_/g, "-")}-v1-${randomBytes(3).toString("hex")}`;
    const nodeId = `node-${(index + running.length) % NODES}`;
    const stream = instanceStream(id);
    let time = at();
    yield planned(
      stream,
      event("InstanceScheduled", {
        instanceId: id,
        service: name,
        version: 1,
        nodeId,
        resources,
        pool: "public",
        spot: false,
        at: time.toISOString(),
      }),
      time,
    );
    time = at();
    yield planned(
      stream,
      event("InstanceStarting", { instanceId: id, service: name, nodeId, restartCount: 0, at: time.toISOString() }),
      time,
    );
    time = at();
    yield planned(
      stream,
      event("InstanceReady", {
        instanceId: id,
        service: name,
        version: 1,
        nodeId,
        endpoint: `10.0.${index % 250}.${running.length + 10}:9000`,
        at: time.toISOString(),
      }),
      time,
    );
    running.push({ id, nodeId });
  }
  yield* startInstance();
  yield* startInstance();
  for (;;) {
    let time = at();
    yield planned(
      serviceStream(name),
      event("ServiceScaled", {
        name,
        fromReplicas: running.length,
        toReplicas: running.length + 1,
        cause: "autoscaler",
        scaledAt: time.toISOString(),
      }),
      time,
    );
    yield* startInstance();
    time = at();
    yield planned(
      serviceStream(name),
      event("ServiceScaled", {
        name,
        fromReplicas: running.length,
        toReplicas: running.length - 1,
        cause: "autoscaler",
        scaledAt: time.toISOString(),
      }),
      time,
    );
    const victim = running.pop()!;
    time = at();
    yield planned(
      instanceStream(victim.id),
      event("InstanceDraining", { instanceId: victim.id, service: name, at: time.toISOString() }),
      time,
    );
    time = at();
    yield planned(
      instanceStream(victim.id),
      event("InstanceStopped", {
        instanceId: victim.id,
        service: name,
        nodeId: victim.nodeId,
        reason: "scaled down",
        at: time.toISOString(),
      }),
      time,
    );
  }
}

function take(source: Generator<Planned>, count: number): Planned[] {
  const out: Planned[] = [];
  for (let i = 0; i < count; i++) out.push(source.next().value as Planned);
  return out;
}

/** An event as appended, with the log position JetStream gave it. */
interface Appended extends Planned {
  position: number;
}

/** Appends each service's events in order, `writers` services at a time; streams interleave in the log. */
async function fill(store: EventStore, perService: Planned[][], writers: number, revisions: Map<string, number>): Promise<Appended[]> {
  const appended: Appended[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(writers, perService.length) }, async () => {
      while (next < perService.length) {
        const events = perService[next++]!;
        for (const planned of events) {
          const revision = revisions.get(planned.stream);
          const result = await store.append(planned.stream, [planned.event], { expectedRevision: revision ?? "no_stream" });
          revisions.set(planned.stream, result.nextExpectedRevision);
          appended.push({ ...planned, position: result.position });
        }
      }
    }),
  );
  return appended;
}

/**
 * Appends the same events to another store in JetStream's position order, so both logs hold the same
 * events (ids, data, times) at the same positions. Uses the positions the appends returned rather than
 * reading the log back, so that filling the peer does not depend on the adapter's read path.
 */
async function mirror(to: EventStore, appended: Appended[]): Promise<void> {
  for (const { stream, event: e } of [...appended].sort((a, b) => a.position - b.position)) {
    await to.append(stream, [e], { expectedRevision: "any" });
  }
}

async function rawRead(store: EventStore): Promise<{ seconds: number; events: number }> {
  const started = performance.now();
  let events = 0;
  for await (const _ of store.readAll()) events++;
  return { seconds: (performance.now() - started) / 1000, events };
}

/**
 * A projection that only counts the events reaching evolve, over the same categories as the catalog:
 * rebuilding it measures the runner and the subscription without the catalog's own work.
 */
const countingProjection: Projection<number> = {
  name: "bench-count",
  version: 1,
  categories: serviceCatalogProjection.categories!,
  initialState: () => 0,
  evolve: (count) => count + 1,
};

async function rebuild<State>(
  store: EventStore,
  projection: Projection<State>,
  checkpoints: CheckpointStore = new InMemoryCheckpointStore(),
) {
  const started = performance.now();
  const runner = createProjectionRunner({
    store,
    projection,
    checkpoints,
    onError: (error) => console.error("projection runner:", error),
  });
  await runner.start();
  await runner.caughtUp;
  const seconds = (performance.now() - started) / 1000;
  const status = runner.status();
  const state = runner.state;
  await runner.stop();
  return { seconds, events: status.eventsApplied, position: status.position, state };
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)]!;
const fmt = (value: number, digits = 3) => value.toFixed(digits);

class DeadlineError extends Error {
  constructor(readonly seconds: number) {
    super(`the benchmark ran past its ${seconds} s deadline`);
    this.name = "DeadlineError";
  }
}

async function main(): Promise<void> {
  const config = settings(process.argv.slice(2));
  let nats: NatsServerHandle | undefined;
  let jetstream: EventStore | undefined;
  const memory = new InMemoryEventStore();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(config.deadlineS)), config.deadlineS * 1000);
  });
  deadline.catch(() => undefined);
  const bounded = <T>(work: Promise<T>): Promise<T> => Promise.race([work, deadline]);
  const cleanup = async () => {
    clearTimeout(timer);
    await jetstream?.close().catch(() => undefined);
    await memory.close().catch(() => undefined);
    await nats?.stop().catch(() => undefined);
  };
  const onSignal = () => {
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    const started = performance.now();
    nats = await bounded(startNatsServer());
    jetstream = await bounded(connectJetStreamEventStore({ servers: nats.url, connectionName: "bench-projection-rebuild" }));

    // Plan: service i gets floor(N/S) events, the first N mod S services one more.
    const lifecycles = Array.from({ length: config.services }, (_, i) => lifecycle(i));
    const share = Math.floor(config.events / config.services);
    const perService = lifecycles.map((source, i) => take(source, share + (i < config.events % config.services ? 1 : 0)));
    const all = perService.flat();
    const serviceEvents = all.filter((p) => p.stream.startsWith("service-")).length;
    const streams = new Set(all.map((p) => p.stream)).size;
    console.log(
      `projection rebuild bench: ${config.events} events in ${streams} streams (${config.services} services; ` +
        `${serviceEvents} service-stream events reach evolve, ${config.events - serviceEvents} instance events are skipped by category); ` +
        `projection ${serviceCatalogProjection.name}; ${config.runs} runs each; node ${process.version}, ` +
        `${cpus().length} CPUs, load average ${loadavg()
          .map((l) => l.toFixed(2))
          .join(" ")}`,
    );

    const revisions = new Map<string, number>();
    const fillStarted = performance.now();
    const appended = await bounded(fill(jetstream, perService, config.writers, revisions));
    const head = await jetstream.headPosition();
    assert.equal(head, config.events, "every planned event is in the JetStream log");
    const fillSeconds = (performance.now() - fillStarted) / 1000;
    console.log(
      `filled JetStream: ${head} events in ${fmt(fillSeconds, 1)} s (${Math.round(head / fillSeconds)} events/s, ${config.writers} writers; not measured below)`,
    );
    await bounded(mirror(memory, appended));
    assert.equal(await memory.headPosition(), head, "the memory store holds the same log");

    type Measured = { seconds: number; events: number };
    const work: { label: string; adapter: string; run: () => Promise<Measured> }[] = [];
    const catalogs: Record<string, ServiceCatalog> = {};
    // The checkpoint store of each adapter's last rebuild, saved at the head: the resume below starts from it.
    const lastCheckpoints: Record<string, InMemoryCheckpointStore> = {};
    for (const [adapter, store] of [
      ["jetstream", jetstream],
      ["memory", memory],
    ] as const) {
      work.push({ label: "raw read", adapter, run: () => rawRead(store) });
      work.push({
        label: "count only",
        adapter,
        run: async () => {
          const result = await rebuild(store, countingProjection);
          assert.equal(result.state, serviceEvents, `${adapter}: every service event reached the counting projection`);
          return result;
        },
      });
      work.push({
        label: "rebuild",
        adapter,
        run: async () => {
          const checkpoints = new InMemoryCheckpointStore();
          const result = await rebuild(store, serviceCatalogProjection, checkpoints);
          assert.equal(result.position, config.events, `${adapter} rebuild reached the head`);
          catalogs[adapter] = result.state;
          lastCheckpoints[adapter] = checkpoints;
          return result;
        },
      });
    }
    // Runs interleave (every measurement once, then again), so drift in the machine's load hits all alike.
    const results = work.map((w) => ({ label: w.label, adapter: w.adapter, seconds: [] as number[], events: 0 }));
    for (let run = 0; run < config.runs; run++) {
      const line: string[] = [];
      for (const [i, w] of work.entries()) {
        const result = await bounded(w.run());
        results[i]!.seconds.push(result.seconds);
        results[i]!.events = result.events;
        line.push(`${w.adapter} ${w.label} ${fmt(result.seconds)} s`);
      }
      console.log(`  run ${run + 1}: ${line.join(", ")}`);
    }
    assert.equal(Object.keys(catalogs.jetstream!).length, config.services, "every service is in the rebuilt catalog");
    assert.deepEqual(catalogs.jetstream, catalogs.memory, "both adapters rebuild the same catalog");

    // Resume: checkpoint at the head, `resume` more events (the same services keep scaling), start again.
    const resumeRows: { adapter: string; seconds: number; applied: number; fullRebuildSeconds: number }[] = [];
    const jsCheckpoints = lastCheckpoints.jetstream!;
    const memCheckpoints = lastCheckpoints.memory!;
    assert.equal((await jsCheckpoints.load(serviceCatalogProjection.name))?.position, config.events, "checkpoint saved at the head");
    assert.equal((await memCheckpoints.load(serviceCatalogProjection.name))?.position, config.events, "checkpoint saved at the head");
    const extra: Planned[][] = [];
    for (let i = 0; i < config.resume; i++) {
      const service = i % config.services;
      (extra[service] ??= []).push(lifecycles[service]!.next().value as Planned);
    }
    const appendedExtra = await bounded(fill(jetstream, extra.filter(Boolean), config.writers, revisions));
    assert.equal(await jetstream.headPosition(), config.events + config.resume);
    await bounded(mirror(memory, appendedExtra));
    assert.equal(await memory.headPosition(), config.events + config.resume);
    for (const [adapter, store, checkpoints] of [
      ["jetstream", jetstream, jsCheckpoints],
      ["memory", memory, memCheckpoints],
    ] as const) {
      const resumed = await bounded(rebuild(store, serviceCatalogProjection, checkpoints));
      assert.equal(resumed.position, config.events + config.resume, `${adapter} resume reached the head`);
      assert.equal(resumed.events, config.resume, `${adapter} resume applied only the new events`);
      const full = results.find((r) => r.adapter === adapter && r.label === "rebuild")!;
      resumeRows.push({ adapter, seconds: resumed.seconds, applied: resumed.events, fullRebuildSeconds: median(full.seconds) });
    }

    const med = (adapter: string, label: string) => median(results.find((r) => r.adapter === adapter && r.label === label)!.seconds);
    console.log(
      `\nresults (median of ${config.runs} runs; events/s = events / median seconds; raw read = readAll without a runner, ` +
        `count only = the runner with a projection that counts, rebuild = the runner with ${serviceCatalogProjection.name}):`,
    );
    console.table(
      results.map((r) => {
        const s = median(r.seconds);
        return {
          adapter: r.adapter,
          what: r.label,
          events: r.events,
          "seconds (median)": fmt(s),
          "min s": fmt(Math.min(...r.seconds)),
          "max s": fmt(Math.max(...r.seconds)),
          "events/s": Math.round(r.events / s),
          "vs raw read (same adapter)": `x${fmt(s / med(r.adapter, "raw read"), 2)}`,
          "vs memory (same what)": `x${fmt(s / med("memory", r.label), 1)}`,
        };
      }),
    );
    console.log(`resume from a checkpoint at position ${config.events} after ${config.resume} more events:`);
    console.table(
      resumeRows.map((r) => ({
        adapter: r.adapter,
        "events applied": r.applied,
        "resume ms": fmt(r.seconds * 1000, 1),
        "full rebuild ms (median)": fmt(r.fullRebuildSeconds * 1000, 1),
        "resume / full rebuild": fmt(r.seconds / r.fullRebuildSeconds, 3),
      })),
    );
    console.log(
      `summary: jetstream rebuild ${config.events} events in ${fmt(med("jetstream", "rebuild"))} s = ${Math.round(config.events / med("jetstream", "rebuild"))} events/s; ` +
        `raw read ${fmt(med("jetstream", "raw read"))} s; memory rebuild ${fmt(med("memory", "rebuild"))} s; total run ${fmt((performance.now() - started) / 1000, 1)} s; ` +
        `load average ${loadavg()
          .map((l) => l.toFixed(2))
          .join(" ")}`,
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
// A read still pending when the deadline hit would keep the process alive; everything is cleaned up by now.
process.exit();

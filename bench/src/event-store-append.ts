/**
 * Append throughput and latency of the event store with optimistic concurrency.
 *
 *   node --conditions=source --import tsx bench/src/event-store-append.ts [events] [--streams=100] [--writers=16]
 *
 * Events default to 20,000 (or EAS_BENCH_EVENTS). Starts its own nats-server. Two scenarios per adapter:
 *   (a) one stream, sequential appends, each with the expected revision of the previous one;
 *   (b) many streams, several concurrent writers, each owning a share of the streams.
 * The in-memory adapter runs the same scenarios as a reference: compare ratios, not absolute figures.
 */
import { randomUUID } from "node:crypto";
import { connectJetStreamEventStore, InMemoryEventStore, type EventStore } from "@eas/event-store";
import { startNatsServer } from "@eas/testing";
import hdr, { type Histogram } from "hdr-histogram-js";

interface Settings {
  events: number;
  streams: number;
  writers: number;
}

interface Result {
  adapter: string;
  scenario: string;
  events: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
}

function settings(argv: string[]): Settings {
  const flag = (name: string) => argv.find((arg) => arg.startsWith(`--${name}=`))?.split("=")[1];
  const positional = argv.find((arg) => /^\d+$/.test(arg));
  const events = Number(positional ?? flag("events") ?? process.env.EAS_BENCH_EVENTS ?? 20_000);
  const streams = Number(flag("streams") ?? 100);
  const writers = Number(flag("writers") ?? 16);
  for (const [name, value] of Object.entries({ events, streams, writers })) {
    if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${name} must be a positive integer, got ${value}`);
  }
  return { events, streams, writers: Math.min(writers, streams) };
}

function event(index: number) {
  return {
    id: randomUUID(),
    type: "eas.v1.InstanceReady",
    data: { instanceId: `i${index}`, service: "bench", version: 1, nodeId: "n1", endpoint: "127.0.0.1:9000", at: new Date().toISOString() },
  };
}

function newHistogram() {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
}

/** (a) one stream, each append expecting the revision the previous one returned. */
async function singleStream(adapter: string, store: EventStore, events: number): Promise<Result> {
  const histogram = newHistogram();
  const stream = `bench-single_${randomUUID().slice(0, 8)}`;
  let expected: number | "no_stream" = "no_stream";
  const started = performance.now();
  for (let i = 0; i < events; i++) {
    const t0 = performance.now();
    const result = await store.append(stream, [event(i)], { expectedRevision: expected });
    histogram.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
    expected = result.nextExpectedRevision;
  }
  const seconds = (performance.now() - started) / 1000;
  const summary = summarize(adapter, "1 stream, sequential", events, seconds, histogram);
  histogram.destroy();
  return summary;
}

/** (b) `streams` streams, `writers` concurrent writers; writer w owns streams w, w + writers, ... */
async function manyStreams(adapter: string, store: EventStore, { events, streams, writers }: Settings): Promise<Result> {
  const histogram = newHistogram();
  const run = randomUUID().slice(0, 8);
  const names = Array.from({ length: streams }, (_, i) => `bench-many_${run}_${i}`);
  const perWriter = Math.ceil(events / writers);
  let written = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: writers }, async (_, writer) => {
      const own = names.filter((_, i) => i % writers === writer);
      const revisions = new Map<string, number>();
      for (let i = 0; i < perWriter && written < events; i++) {
        const stream = own[i % own.length]!;
        const revision = revisions.get(stream);
        written++;
        const t0 = performance.now();
        const result = await store.append(stream, [event(i)], { expectedRevision: revision ?? "no_stream" });
        histogram.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
        revisions.set(stream, result.nextExpectedRevision);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const summary = summarize(adapter, `${streams} streams, ${writers} writers`, written, seconds, histogram);
  histogram.destroy();
  return summary;
}

function summarize(adapter: string, scenario: string, events: number, seconds: number, histogram: Histogram): Result {
  return {
    adapter,
    scenario,
    events,
    seconds,
    p50Ms: histogram.getValueAtPercentile(50) / 1000,
    p99Ms: histogram.getValueAtPercentile(99) / 1000,
  };
}

function print(results: Result[]): void {
  const reference = new Map(results.filter((r) => r.adapter === "memory").map((r) => [r.scenario, r.events / r.seconds]));
  const rows = results.map((r) => {
    const rate = r.events / r.seconds;
    const ratio = r.adapter === "memory" ? "1" : `1/${Math.round((reference.get(r.scenario) ?? rate) / rate)}`;
    return {
      adapter: r.adapter,
      scenario: r.scenario,
      events: r.events,
      "events/s": Math.round(rate),
      "p50 ms": r.p50Ms.toFixed(3),
      "p99 ms": r.p99Ms.toFixed(3),
      "vs memory": ratio,
    };
  });
  console.table(rows);
}

async function main(): Promise<void> {
  const config = settings(process.argv.slice(2));
  console.log(`event-store append bench: ${config.events} events; (b) ${config.streams} streams, ${config.writers} writers`);
  const results: Result[] = [];

  const memory = new InMemoryEventStore();
  try {
    results.push(await singleStream("memory", memory, config.events));
    results.push(await manyStreams("memory", memory, config));
  } finally {
    await memory.close();
  }

  const server = await startNatsServer();
  try {
    const jetstream = await connectJetStreamEventStore({ servers: server.url });
    try {
      // Warm-up: connection, stream lookup and JIT, kept out of the figures.
      await singleStream("warmup", jetstream, 200);
      results.push(await singleStream("jetstream", jetstream, config.events));
      results.push(await manyStreams("jetstream", jetstream, config));
    } finally {
      await jetstream.close();
    }
  } finally {
    await server.stop();
  }
  print(results);
}

await main();

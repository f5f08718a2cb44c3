/**
 * Delivery latency of JetStream live subscriptions under CPU load (append ack -> subscriber receives).
 *
 *   node --conditions=source --import tsx bench/src/event-store-latency.ts [--seconds=60] [--subscribers=4] [--hogs=3] [--rate=50]
 *
 * Starts its own nats-server and `hogs` busy child processes, opens `subscribers` live subscriptions on one
 * store, then runs a writer through phases: steady appends at `rate`/s, bursts of concurrent appends, and
 * idle pauses longer than the pull expiry (5 s), so that expired pulls must be renewed. A raw ordered
 * consumer on the same stream logs the client's status notifications (resets, missed heartbeats, 408/409).
 * Every few seconds a readAll of the whole log checks that reads do not stall. Bounded to `seconds` + ~15 s.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { connectJetStreamEventStore, type EventStore, type Subscription } from "@eas/event-store";
import { startNatsServer } from "@eas/testing";
import { jetstream } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import hdr from "hdr-histogram-js";

const flag = (name: string, fallback: number) => {
  const raw = process.argv
    .slice(2)
    .find((arg) => arg.startsWith(`--${name}=`))
    ?.split("=")[1];
  const value = Number(raw ?? fallback);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a non-negative number`);
  return value;
};
const SECONDS = Math.min(flag("seconds", 60), 75);
const SUBSCRIBERS = flag("subscribers", 4);
const HOGS = flag("hogs", 3);
const RATE = flag("rate", 50);

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function startHogs(count: number): ChildProcess[] {
  return Array.from({ length: count }, () =>
    spawn(process.execPath, ["-e", "const end = Date.now() + 120000; while (Date.now() < end) {}"], { stdio: "ignore" }),
  );
}

async function main(): Promise<void> {
  const server = await startNatsServer();
  const hogs: ChildProcess[] = [];
  const subscriptions: Subscription[] = [];
  let store: EventStore | undefined;
  const rawNc = await connect({ servers: server.url });
  try {
    store = await connectJetStreamEventStore({ servers: server.url });
    let t0 = performance.now();
    const ackAt = new Map<string, number>();
    const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
    const slow: string[] = [];
    let received = 0;
    let early = 0;
    const pendingReceive = new Map<string, number>();

    for (let s = 0; s < SUBSCRIBERS; s++) {
      const subscription = store.subscribeToAll({});
      subscriptions.push(subscription);
      void (async () => {
        for await (const event of subscription) {
          const now = performance.now();
          const acked = ackAt.get(event.id);
          received++;
          if (acked === undefined) {
            // Delivered before the append's ack came back to the writer: latency ~0.
            early++;
            pendingReceive.set(`${s}:${event.id}`, now);
            continue;
          }
          const latencyMs = Math.max(0, now - acked);
          histogram.recordValue(Math.max(1, Math.round(latencyMs * 1000)));
          if (latencyMs > 200)
            slow.push(`sub ${s} pos ${event.position} ${latencyMs.toFixed(0)} ms at +${((now - t0) / 1000).toFixed(1)} s`);
        }
      })().catch((error: unknown) => console.error(`subscriber ${s} failed:`, error));
    }

    // The raw consumer shows what the client does underneath (same options as the store's subscriptions).
    const js = jetstream(rawNc);
    const raw = await js.consumers.get("EAS_LOG", { filter_subjects: "eas.log.>", inactive_threshold: 60_000 });
    const rawMessages = await raw.consume({ max_messages: 256, expires: 5_000 });
    const notes = new Map<string, number>();
    void (async () => {
      for await (const status of rawMessages.status()) {
        const key = status.type === "debug" ? `debug ${(status as { code?: number }).code}` : status.type;
        notes.set(key, (notes.get(key) ?? 0) + 1);
        if (
          !["next", "heartbeat", "discard", "debug"].includes(status.type) ||
          ((status as { code?: number }).code !== undefined && (status as { code?: number }).code !== 408)
        ) {
          console.log(`  [raw consumer +${((performance.now() - t0) / 1000).toFixed(1)} s] ${JSON.stringify(status)}`);
        }
      }
    })();
    void (async () => {
      for await (const _ of rawMessages) void _;
    })();

    hogs.push(...startHogs(HOGS));
    t0 = performance.now();
    const deadline = t0 + SECONDS * 1000;
    let appended = 0;
    const append = async (i: number) => {
      const id = randomUUID();
      await store!.append(
        `latency-s${i % 50}`,
        [{ id, type: "eas.v1.InstanceReady", data: { instanceId: `i${i}`, at: new Date().toISOString() } }],
        {
          expectedRevision: "any",
        },
      );
      const at = performance.now();
      ackAt.set(id, at);
      appended++;
    };
    const readChecks: string[] = [];
    let phase = 0;
    while (performance.now() < deadline) {
      const kind = phase % 4;
      phase++;
      if (kind === 0 || kind === 2) {
        // steady: RATE events/s for 6 s
        const end = Math.min(deadline, performance.now() + 6_000);
        while (performance.now() < end) {
          await append(appended);
          await sleep(1000 / RATE);
        }
      } else if (kind === 1) {
        // burst: 600 appends, 16 at a time
        let next = 0;
        await Promise.all(
          Array.from({ length: 16 }, async () => {
            while (next < 600) await append(next++);
          }),
        );
      } else {
        // idle longer than the pull expiry, then a single event whose latency is what matters
        await sleep(Math.min(6_500, Math.max(0, deadline - performance.now())));
        await append(appended);
        const readStart = performance.now();
        let count = 0;
        try {
          for await (const _ of store.readAll({})) count++;
          readChecks.push(`readAll ${count} events in ${(performance.now() - readStart).toFixed(0)} ms`);
        } catch (error) {
          readChecks.push(`readAll FAILED after ${count}: ${String(error)}`);
        }
      }
    }
    // Let deliveries finish (bounded).
    const expected = appended * SUBSCRIBERS;
    const waitEnd = performance.now() + 10_000;
    while (received < expected && performance.now() < waitEnd) await sleep(50);

    console.log(`\nevent-store latency: ${SECONDS} s, ${SUBSCRIBERS} subscribers, ${HOGS} CPU hogs, ${appended} events appended`);
    console.log(`delivered ${received}/${expected} (${early} before the writer saw its ack)`);
    const ms = (p: number) => (histogram.getValueAtPercentile(p) / 1000).toFixed(1);
    console.log(`latency ms: p50 ${ms(50)}  p99 ${ms(99)}  p99.9 ${ms(99.9)}  max ${(histogram.maxValue / 1000).toFixed(1)}`);
    console.log(`deliveries over 200 ms: ${slow.length}`);
    for (const line of slow.slice(0, 20)) console.log(`  ${line}`);
    for (const line of readChecks) console.log(`  ${line}`);
    console.log(`raw consumer notifications: ${JSON.stringify(Object.fromEntries(notes))}`);
    histogram.destroy();
    if (received < expected) process.exitCode = 1;
  } finally {
    for (const hog of hogs) hog.kill("SIGKILL");
    await Promise.all(subscriptions.map((s) => s.close()));
    await store?.close();
    await rawNc.close();
    await server.stop();
  }
}

await main();

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { connectBus, type Bus } from "@eas/bus";
import { startNatsServer, type NatsServerHandle } from "@eas/testing";
import { SecondAggregator } from "../domain/second-aggregator.js";
import { gatewaySample, traffic } from "../domain/test-support.js";
import { evaluateQuery, planQuery } from "../domain/query.js";
import { recoverRecentPoints } from "../pipeline/second-loop.js";
import { RecentPoints } from "./recent-points.js";
import { createSeriesStore, type SeriesStore } from "./series-store.js";

let nats: NatsServerHandle;
let bus: Bus;
let store: SeriesStore;

before(async () => {
  nats = await startNatsServer();
  bus = await connectBus({ servers: nats.url, name: "series-store-test" });
  store = createSeriesStore({ bus, retentionMs: { "1s": 3_600_000, "1m": 30 * 86_400_000 } });
  await store.ensureStreams();
});

after(async () => {
  await bus?.close();
  await nats?.stop();
});

describe("series store on JetStream", () => {
  it("reloads the last minutes after a restart and writes the minute points of complete minutes", async () => {
    const nowMs = Date.now();
    const minuteStart = Math.floor(nowMs / 60_000) * 60_000 - 60_000;
    const aggregator = new SecondAggregator(minuteStart);
    const seconds = [];
    for (let s = 0; s < 60; s++) {
      const startMs = minuteStart + s * 1000;
      for (const service of ["a", "b"])
        aggregator.addGateway(gatewaySample({ service, startMs, total: traffic(service === "a" ? [10, 20] : [5]) }));
      seconds.push(...aggregator.close(startMs, { instancesReady: () => 1 }));
    }
    await store.write("1s", seconds);
    // Written twice (a restart rewriting its last points): read back once per second.
    await store.write("1s", seconds.slice(-5));

    const stored = await store.read("1s", "a", minuteStart, minuteStart + 60_000);
    assert.equal(new Set(stored.map((p) => p.startMs)).size, 60);

    const recent = new RecentPoints(300_000, nowMs);
    const recovered = await recoverRecentPoints(recent, store, nowMs);
    assert.equal(recovered.minutes, 2);
    assert.ok(recent.covers(minuteStart));
    assert.equal(recent.range("b", minuteStart, minuteStart + 60_000).length, 60);

    const minutes = await store.read("1m", "a", minuteStart, minuteStart + 60_000);
    assert.equal(minutes.length, 1);
    const context = {
      nowMs,
      closedThroughMs: minuteStart + 60_000,
      secondRetentionMs: 3_600_000,
      minuteRetentionMs: 30 * 86_400_000,
      knownService: () => true,
    };
    const plan = planQuery(
      {
        service: "a",
        metrics: ["qps", "rt_max"],
        fromMs: minuteStart,
        toMs: minuteStart + 60_000,
        stepSeconds: 60,
        version: 0,
        instanceId: "",
        breakdown: "",
      },
      context,
    );
    const [qps, max] = evaluateQuery(plan, minutes);
    assert.equal(qps!.points[0]!.value, 2);
    assert.ok(Math.abs(max!.points[0]!.value - 20) < 0.3);
  });

  it("reads nothing for a service that never reported", async () => {
    assert.deepEqual(await store.read("1s", "never", 0, Date.now()), []);
  });
});

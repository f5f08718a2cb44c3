/*
 * Autoscaling on the local cluster, one cluster for the file (CI time): the echo processor at 20 ms and two
 * requests at a time per instance. A load step from 20 to 400 req/s scales the service out and its p99
 * recovers; a minute of that steady load changes nothing; the drop back to 20 scales it in after the
 * scale-down window; no request fails throughout. An idle service with min 0 goes to zero and 20 requests
 * arriving at once all succeed; an async service at zero scales up on its queue's backlog, answers 30 queued
 * requests and goes back to zero. Two cron jobs with seconds-level schedules scale a service up and back down
 * at the times given.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { credentials } from "@grpc/grpc-js";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { AutoscalerClient, unaryCall, type EventRecord, type ServiceInfo } from "@eas/proto";
import { waitFor } from "@eas/testing";
import { Agent, request } from "undici";
import { readEvents, startTestCluster, type PacedAnswer, type TestCluster } from "./cluster-harness.js";

const spec = (name: string, extra: Record<string, unknown> = {}, latencyMs = 20) =>
  JSON.stringify({
    name,
    metadata: { instance: 1, cpu: 0.25, memory: 128, rpc: { worker_threads: 4, max_queue_size: 2000, keepalive: 15_000 }, ...extra },
    processor: "echo",
    processor_config: { latency_ms: latencyMs },
  });

/**
 * Open-loop load at `rate` requests a second (changeable), on undici's client: at 400 req/s `fetch` costs this
 * process more CPU than the gateway, and a starved sender would show the autoscaler a dip that is not there.
 */
function openLoop(url: string, token: string, initialRate: number) {
  const agent = new Agent({ connections: 512 });
  const answers: PacedAnswer[] = [];
  const pending = new Set<Promise<void>>();
  let rate = initialRate;
  let due = 0;
  let sent = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    due += ((now - last) * rate) / 1000;
    last = now;
    for (; sent < Math.floor(due); sent++) {
      const sentAt = Date.now();
      const call = request(url, {
        method: "POST",
        dispatcher: agent,
        headers: { authorization: token, "content-type": "application/json" },
        body: "{}",
      })
        .then(async (response) => {
          await response.body.dump();
          answers.push({ sentAt, endedAt: Date.now(), status: response.statusCode });
        })
        .catch(() => void answers.push({ sentAt, endedAt: Date.now(), status: 0 }));
      pending.add(call);
      void call.finally(() => pending.delete(call));
    }
  }, 2);
  return {
    answers,
    setRate(next: number) {
      rate = next;
    },
    async stop(): Promise<PacedAnswer[]> {
      clearInterval(timer);
      await Promise.all([...pending]);
      await agent.close();
      return answers;
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function p99(answers: readonly PacedAnswer[]): number {
  const sorted = answers.map((a) => a.endedAt - a.sentAt).sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0;
}

describe("autoscaling on the local cluster", { timeout: 900_000 }, () => {
  let t: TestCluster;
  let autoscaler: AutoscalerClient;

  const service = (name: string): Promise<ServiceInfo> => unaryCall(t.client, t.client.getService, { name });
  type Scaled = { position: number; time: number; name: string; fromReplicas?: number; toReplicas?: number; cause: string; reason: string };
  const scaled = async (name: string, fromPosition = 0): Promise<Scaled[]> =>
    (await readEvents(t.client, fromPosition, "eas.v1.ServiceScaled"))
      .map((r: EventRecord) => ({
        position: r.position,
        time: Date.parse(r.time),
        ...(JSON.parse(r.dataJson) as Omit<Scaled, "position" | "time">),
      }))
      .filter((e) => e.name === name);
  const decisions = async (name: string, fromPosition = 0) =>
    (await readEvents(t.client, fromPosition, "eas.v1.ScaleDecided")).filter(
      (r) => (JSON.parse(r.dataJson) as { service: string }).service === name,
    );
  const head = async () => (await readEvents(t.client, 0)).at(-1)?.position ?? 0;
  const create = async (name: string, extra: Record<string, unknown> = {}, latencyMs?: number) => {
    await unaryCall(t.client, t.client.createService, { spec: spec(name, extra, latencyMs) });
    await waitFor(`${name} Running`, async () => (await service(name)).status === "Running", { timeoutMs: 60_000, intervalMs: 200 });
    return service(name);
  };

  before(async () => {
    t = await startTestCluster([
      { nodeId: "node-1", cpuMillis: 4000 },
      { nodeId: "node-2", cpuMillis: 4000 },
    ]);
    autoscaler = new AutoscalerClient(`127.0.0.1:${t.cluster.services.get("autoscaler")!.grpcPort}`, credentials.createInsecure());
  });

  after(async () => {
    autoscaler?.close();
    await t?.stop();
  });

  it("20 -> 400 req/s scales out and p99 recovers; a steady minute changes nothing; the drop scales in after the window; nothing fails", async () => {
    const info = await create("elastic");
    await unaryCall(autoscaler, autoscaler.setPolicy, {
      service: "elastic",
      // qps for the load, concurrency for the capacity: on a machine shared with other work an instance
      // serves less than its 4 x 1/20 ms, and what it cannot serve queues up.
      policy: { minReplicas: 1, maxReplicas: 8, targetQps: 90, targetConcurrency: 8 },
      easJson: "",
    });
    const load = openLoop(`${t.cluster.gatewayUrl}/api/predict/elastic`, info.token, 20);
    const switchTo = async (rate: number) => load.setRate(rate);
    try {
      await sleep(6_000);
      assert.equal((await service("elastic")).desiredInstances, 1, "20 req/s fits one instance");

      const stepAt = Date.now();
      await switchTo(400);
      await waitFor("scaled out for 400 req/s", async () => (await service("elastic")).runningInstances >= 5, {
        timeoutMs: 60_000,
        intervalMs: 200,
      }).catch(async (error: unknown) => {
        const now = await service("elastic");
        console.error(JSON.stringify({ scaled: await scaled("elastic"), desired: now.desiredInstances, running: now.runningInstances }));
        throw error;
      });
      const firstOut = (await scaled("elastic")).find((e) => e.cause === "autoscaler")!;
      console.log(`step -> first scale-out decision ${firstOut.time - stepAt} ms (${firstOut.reason})`);
      assert.ok(firstOut.time - stepAt < 4_000, `the first scale-out within seconds of the step, not ${firstOut.time - stepAt} ms`);

      // Settled (panic mode ends a stable window, 30 s, after its last trigger; an overshoot comes back a
      // scale-down window later): a minute of the same load then makes no decision, and the p99 is back down.
      await waitFor(
        "settled: no decision for 40 s after a stable one, 70 s after a panic one",
        async () => {
          const last = (await decisions("elastic")).at(-1)!;
          const mode = (JSON.parse(last.dataJson) as { mode?: string }).mode;
          const quietMs = Date.now() - Date.parse(last.time);
          // After a panic decision a stable one may still come once panic ends (30 s) and the scale-down window passes (30 s).
          return quietMs > (mode === "stable" ? 40_000 : 70_000);
        },
        { timeoutMs: 180_000, intervalMs: 1_000 },
      );
      const settledAt = await head();
      const steadyFrom = Date.now();
      await sleep(60_000);
      assert.deepEqual(
        (await decisions("elastic", settledAt)).map((r) => r.dataJson),
        [],
        "no scale change under a steady load",
      );
      const steadyAnswers = load.answers.filter((a) => a.sentAt >= steadyFrom);
      const stepAnswers = load.answers.filter((a) => a.sentAt >= stepAt && a.sentAt < stepAt + 3_000);
      console.log(
        `400 req/s: p99 ${p99(stepAnswers)} ms in the 3 s after the step, ${p99(steadyAnswers)} ms over the steady minute ` +
          `(${steadyAnswers.length} answers, ${(await service("elastic")).runningInstances} instances)`,
      );
      assert.ok(p99(steadyAnswers) < 1_000 && p99(steadyAnswers) < p99(stepAnswers), "p99 recovered from the step");

      const dropAt = Date.now();
      const dropPosition = await head();
      await switchTo(20);
      await waitFor("scaled back in to 1", async () => (await service("elastic")).desiredInstances === 1, {
        timeoutMs: 90_000,
        intervalMs: 500,
      });
      const ins = (await scaled("elastic", dropPosition)).filter((e) => e.cause === "autoscaler");
      assert.ok(ins.length >= 2, `bounded steps down: ${JSON.stringify(ins)}`);
      assert.ok(ins[0]!.time - dropAt >= 29_000, `not before the scale-down window: ${ins[0]!.time - dropAt} ms`);
      await waitFor("instances drained", async () => (await service("elastic")).totalInstances === 1, {
        timeoutMs: 30_000,
        intervalMs: 500,
      });
    } finally {
      await load.stop();
    }
    const failed = load.answers.filter((a) => a.status !== 200);
    assert.equal(failed.length, 0, `failed requests: ${JSON.stringify(failed.slice(0, 5))} of ${load.answers.length}`);
  });

  it("an idle service with min 0 goes to zero; 20 requests arriving at once then all succeed", async () => {
    const info = await create("sleepy");
    await unaryCall(autoscaler, autoscaler.setPolicy, {
      service: "sleepy",
      policy: { minReplicas: 0, maxReplicas: 3, targetConcurrency: 4, scaleToZeroGraceSeconds: 5 },
      easJson: "",
    });
    await waitFor(
      "at zero",
      async () => {
        const now = await service("sleepy");
        return now.desiredInstances === 0 && now.totalInstances === 0;
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    const toZero = (await scaled("sleepy")).at(-1)!;
    assert.match(toZero.reason, /idle for 5s/);

    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const response = await fetch(`${t.cluster.gatewayUrl}/api/predict/sleepy`, {
          method: "POST",
          headers: { Authorization: info.token, "Content-Type": "application/json" },
          body: JSON.stringify({ i }),
        });
        return { status: response.status, body: await response.text(), ms: Date.now() - started };
      }),
    );
    const latencies = results.map((r) => r.ms).sort((a, b) => a - b);
    console.log(`scale from zero: first answer after ${latencies[0]} ms, last after ${latencies.at(-1)} ms`);
    assert.deepEqual(
      results.filter((r) => r.status !== 200),
      [],
    );
    const fromZero = (await scaled("sleepy")).at(-1)!;
    assert.equal(fromZero.fromReplicas ?? 0, 0);
    assert.equal(fromZero.cause, "autoscaler");
  });

  it("an async service at zero scales up on its backlog when 30 requests are queued, answers all 30, and goes back to zero", async () => {
    // 500 ms a request, two at a time: one instance would take 7.5 s over the 30, so the backlog per instance
    // (not only the first sign of traffic) has to be what brings the count to max.
    const info = await create("queued", { type: "Async", rpc: { worker_threads: 2 } }, 500);
    await unaryCall(autoscaler, autoscaler.setPolicy, {
      service: "queued",
      // `eas autoscale queued --min 0 --max 3 --backlog 5 --zero-grace 5 --stable-window 5`: a stable window
      // this short ends panic mode (which never scales in) before the grace is over.
      policy: { minReplicas: 0, maxReplicas: 3, targetBacklog: 5, scaleToZeroGraceSeconds: 5, stableWindowSeconds: 5 },
      easJson: "",
    });
    const atZero = async () => {
      const now = await service("queued");
      return now.desiredInstances === 0 && now.totalInstances === 0;
    };
    await waitFor("at zero", atZero, { timeoutMs: 60_000, intervalMs: 250 });
    // The async-queue makes the service's queue stream when it learns of the service; until then the gateway answers 503.
    const nc = await connect({ servers: t.cluster.natsUrl, name: "autoscaling-e2e" });
    try {
      const jsm = await jetstreamManager(nc);
      await waitFor(
        "the queue stream of queued",
        () =>
          jsm.streams.info("EAS_ASYNC_queued").then(
            () => true,
            () => false,
          ),
        { timeoutMs: 30_000, intervalMs: 200 },
      );
    } finally {
      await nc.close();
    }
    const fromPosition = await head();

    const http = new Agent({ connections: 30 });
    const call = async (method: "GET" | "POST", path: string, body?: string) => {
      const response = await request(`${t.cluster.gatewayUrl}/api/predict/queued${path}`, {
        method,
        dispatcher: http,
        headers: { authorization: info.token, "content-type": "application/json" },
        body,
      });
      return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
    };
    try {
      const submitted = await Promise.all(Array.from({ length: 30 }, (_, n) => call("POST", "", JSON.stringify({ n }))));
      assert.deepEqual(
        submitted.filter((r) => r.status !== 200),
        [],
        "every request queued",
      );
      const ids = submitted.map((r) => String(r.headers["x-eas-queueservice-request-id"]));
      assert.equal(new Set(ids).size, 30);

      const results = await waitFor(
        "all 30 results",
        async () => {
          const answers = await Promise.all(ids.map((id) => call("GET", `/results/${id}`)));
          return answers.every((a) => a.status === 200) ? answers : undefined;
        },
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      assert.deepEqual(
        results.map((r) => (JSON.parse(r.text) as { echo: { n: number } }).echo.n),
        Array.from({ length: 30 }, (_, n) => n),
        "each request's own answer, none lost",
      );

      // The first decision from zero may be on the gateway's sample of the submissions ("load seen") or on the
      // queue's, whichever lands first; the backlog (30 over target 5 -> 6) then takes the count to max, no further.
      const up = (await scaled("queued", fromPosition)).filter((e) => e.cause === "autoscaler");
      assert.equal(up[0]?.fromReplicas ?? 0, 0, JSON.stringify(up));
      assert.ok(
        up.some((e) => /^(panic: )?backlog \d+ over \d+ instances?, target 5 -> \d+/.test(e.reason)),
        `scaled on the backlog: ${JSON.stringify(up)}`,
      );
      assert.equal(Math.max(...up.map((e) => e.toReplicas ?? 0)), 3, `up to max 3 and no further: ${JSON.stringify(up)}`);
      console.log(`async from zero: ${up.map((e) => `${e.fromReplicas ?? 0} -> ${e.toReplicas ?? 0} (${e.reason})`).join("; ")}`);

      await waitFor("back at zero", atZero, { timeoutMs: 60_000, intervalMs: 250 });
      const down = (await scaled("queued", fromPosition)).at(-1)!;
      assert.equal(down.toReplicas ?? 0, 0);
      assert.match(down.reason, /idle for 5s/);
    } finally {
      await http.close();
    }
  });

  it("cron jobs scale a service up and back down at the seconds given, in their time zone", async () => {
    await create("timed");
    const zone = "Asia/Shanghai";
    const local = (at: number) => {
      const parts = Object.fromEntries(
        new Intl.DateTimeFormat("en-GB", { timeZone: zone, hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23" })
          .formatToParts(new Date(at))
          .map((p) => [p.type, Number(p.value)]),
      ) as { hour: number; minute: number; second: number };
      return `${parts.second} ${parts.minute} ${parts.hour} * * *`;
    };
    const upAt = Math.ceil(Date.now() / 1000) * 1000 + 6_000;
    const downAt = upAt + 8_000;
    const set = await unaryCall(autoscaler, autoscaler.setCronJobs, {
      service: "timed",
      jobs: [
        { name: "up", schedule: local(upAt), targetSize: 2, timeZone: zone },
        { name: "down", schedule: local(downAt), targetSize: 1, timeZone: zone },
      ],
      excludeDates: [],
    });
    assert.equal(Date.parse(set.jobs[0]!.nextRunAt), upAt);
    await waitFor("scaled down by cron", async () => (await scaled("timed")).some((e) => e.cause === "cron" && e.toReplicas === 1), {
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    const byCron = (await scaled("timed")).filter((e) => e.cause === "cron");
    assert.deepEqual(
      byCron.map((e) => e.toReplicas),
      [2, 1],
    );
    assert.ok(
      byCron[0]!.time >= upAt && byCron[0]!.time < upAt + 2_000,
      `up at ${new Date(byCron[0]!.time).toISOString()}, due ${new Date(upAt).toISOString()}`,
    );
    assert.ok(byCron[1]!.time >= downAt && byCron[1]!.time < downAt + 2_000, `down at ${new Date(byCron[1]!.time).toISOString()}`);
    const jobs = await unaryCall(autoscaler, autoscaler.getCronJobs, { service: "timed" });
    assert.deepEqual(
      jobs.jobs.map((j) => [j.job!.name, j.state, j.message]),
      [
        ["up", "Succeeded", "scaled 1 -> 2"],
        ["down", "Succeeded", "scaled 2 -> 1"],
      ],
    );
  });
});

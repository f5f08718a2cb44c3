/*
 * The monitor on the local cluster: a known load through the gateway to the echo processor is read back
 * from the monitor within 2 s (QPS, p50, error ratio, CPU per instance), survives a monitor restart, and an
 * alert rule fires on the echo's injected failures, reaches a webhook once, and resolves when they stop.
 * One cluster, one service, one load for the whole file (CI time).
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, describe, it } from "node:test";
import { credentials } from "@grpc/grpc-js";
import { MonitorClient, unaryCall, type QuerySeriesRequest, type ServiceInfo } from "@eas/proto";
import { waitFor } from "@eas/testing";
import { pacedLoad, startTestCluster, type PacedLoad, type TestCluster } from "./cluster-harness.js";

const SERVICE = "mon_echo";
const RATE = 200;
const LATENCY_MS = 20;
const FAILURE_RATE = 0.1;
const LOAD_SECONDS = 14;
const SPEC = JSON.stringify({
  name: SERVICE,
  metadata: { instance: 2, cpu: 0.5, memory: 256 },
  processor: "echo",
  processor_config: { latency_ms: LATENCY_MS, failure_rate: FAILURE_RATE },
});

describe("monitor on the local cluster", { timeout: 600_000 }, () => {
  let t: TestCluster;
  let monitor: MonitorClient;
  let info: ServiceInfo;
  let load: PacedLoad | undefined;
  const hook = { posts: [] as { status: string; episode: number; at: number }[] };
  const hookServer = createServer((req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const post = JSON.parse(body) as { status: string; episode: number };
      hook.posts.push({ ...post, at: Date.now() });
      res.writeHead(204).end();
    });
  });

  const query = (request: Partial<QuerySeriesRequest>) =>
    unaryCall(monitor, monitor.querySeries, {
      service: SERVICE,
      metrics: ["qps"],
      fromMs: 0,
      toMs: 0,
      stepSeconds: 1,
      version: 0,
      instanceId: "",
      breakdown: "",
      ...request,
    });

  before(async () => {
    t = await startTestCluster([{ nodeId: "node-1" }, { nodeId: "node-2" }]);
    monitor = new MonitorClient(`127.0.0.1:${t.cluster.services.get("monitor")!.grpcPort}`, credentials.createInsecure());
    await new Promise<void>((resolve) => hookServer.listen(0, "127.0.0.1", resolve));
    await unaryCall(t.client, t.client.createService, { spec: SPEC });
    info = await waitFor(
      "the echo service running with 2 instances",
      async () => {
        const current = await unaryCall(t.client, t.client.getService, { name: SERVICE });
        return current.status === "Running" && current.runningInstances === 2 ? current : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );
  });

  after(async () => {
    await load?.stop();
    monitor?.close();
    hookServer.closeAllConnections();
    hookServer.close();
    await t?.stop();
  });

  it("reads back a known load within 2 s, fires an alert on the injected failures, keeps its points across a restart, and resolves", async () => {
    const address = hookServer.address();
    const webhookUrl = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/hook`;
    const rule = await unaryCall(monitor, monitor.createAlertRule, {
      service: SERVICE,
      metric: "error_ratio",
      comparison: ">",
      threshold: 0.02,
      windowSeconds: 3,
      webhookUrl,
      description: "echo fails",
    });

    load = pacedLoad(t, info, RATE);
    const loadStart = Date.now();
    await new Promise((resolve) => setTimeout(resolve, LOAD_SECONDS * 1000));

    // The seconds wholly inside the load, the first three skipped: the sender, gateway and instances warm up,
    // and the requests queued meanwhile end in a burst.
    const firstSecond = Math.ceil(loadStart / 1000) * 1000 + 3000;
    const lastSecond = Math.floor(Date.now() / 1000) * 1000 - 1000;
    const metrics = ["qps", "error_ratio", "p50", "qps_5xx"];
    const answered = await waitFor(
      "the last second of load to be queryable",
      async () => {
        const series = (await query({ fromMs: firstSecond, toMs: lastSecond + 1000, metrics })).series;
        return series[0]!.points.some((p) => p.timeMs === lastSecond) ? series : undefined;
      },
      { timeoutMs: 5_000, intervalMs: 50 },
    );
    const queryableAfterMs = Date.now() - (lastSecond + 1000);
    assert.ok(queryableAfterMs <= 2_000, `the last second became queryable ${queryableAfterMs} ms after it ended`);

    const byMetric = Object.fromEntries(answered.map((s) => [s.metric, s.points]));
    const seconds = (lastSecond - firstSecond) / 1000 + 1;
    const counted = byMetric.qps!.reduce((sum, p) => sum + p.value, 0);
    // Against what the client saw answered in those seconds, and what it sent: on a busy machine the sender
    // itself falls behind its schedule now and then, and catches up in a burst.
    const received = load.answers.filter((a) => a.endedAt >= firstSecond && a.endedAt < lastSecond + 1000).length;
    const sent = load.answers.filter((a) => a.sentAt >= firstSecond && a.sentAt < lastSecond + 1000).length;
    const counts = `the monitor counted ${counted} requests in ${seconds} s; the client sent ${sent} and got ${received} answers`;
    assert.ok(Math.abs(counted - received) / received <= 0.05, counts);
    assert.ok(Math.abs(counted - sent) / sent <= 0.05, counts);
    const p50s = byMetric.p50!.map((p) => p.value).sort((a, b) => a - b);
    const medianP50 = p50s[Math.floor(p50s.length / 2)]!;
    assert.ok(medianP50 >= LATENCY_MS && medianP50 < LATENCY_MS + 10, `p50 ${medianP50} ms for an echo latency of ${LATENCY_MS} ms`);
    const failures = byMetric.qps_5xx!.reduce((sum, p) => sum + p.value, 0);
    const requests = byMetric.qps!.reduce((sum, p) => sum + p.value, 0);
    assert.ok(
      Math.abs(failures / requests - FAILURE_RATE) < 0.025,
      `error ratio ${failures / requests} for a failure rate of ${FAILURE_RATE}`,
    );
    const clientFailures = load.answers.filter((a) => a.status === 500).length / load.answers.length;
    assert.ok(Math.abs(failures / requests - clientFailures) < 0.02, `monitor ${failures / requests}, client saw ${clientFailures}`);

    const cpu = await query({ fromMs: firstSecond, toMs: lastSecond + 1000, metrics: ["cpu"], breakdown: "instance" });
    const running = (await unaryCall(t.client, t.client.getService, { name: SERVICE })).instances.filter((i) => i.status === "Ready");
    assert.deepEqual(cpu.series.map((s) => s.instanceId).sort(), running.map((i) => i.instanceId).sort());
    for (const series of cpu.series)
      assert.ok(series.points.length >= seconds - 1 && series.points.some((p) => p.value > 0), `CPU of ${series.instanceId}`);

    // The failures began with the load: the rule fires within its window plus 2 s, once.
    const firing = hook.posts.filter((p) => p.status === "firing");
    assert.equal(firing.length, 1, JSON.stringify(hook.posts));
    assert.ok(firing[0]!.at - loadStart <= 3_000 + 2_000 + 1_000, `fired ${firing[0]!.at - loadStart} ms after the failures began`);

    // A restart of the monitor keeps the points, and does not fire the episode again.
    const before = await query({ fromMs: firstSecond, toMs: lastSecond + 1000, metrics: ["qps", "p50"] });
    await t.cluster.kill("monitor");
    await t.cluster.restart("monitor");
    await waitFor("the monitor ready again", async () => (await t.readyz("monitor")) === 200, { timeoutMs: 30_000, intervalMs: 200 });
    const afterRestart = await query({ fromMs: firstSecond, toMs: lastSecond + 1000, metrics: ["qps", "p50"] });
    assert.deepEqual(afterRestart.series, before.series);

    // The failures stop while the load goes on (the echo's GET /healthz injects none): the alert resolves.
    load.setPath("healthz", "GET");
    const healthySince = Date.now();
    await waitFor("the alert to resolve", () => hook.posts.some((p) => p.status === "resolved"), { timeoutMs: 10_000, intervalMs: 100 });
    const resolvedAfterMs = hook.posts.find((p) => p.status === "resolved")!.at - healthySince;
    assert.ok(resolvedAfterMs <= 3_000, `resolved ${resolvedAfterMs} ms after the failures stopped`);
    await load.stop();
    load = undefined;
    assert.deepEqual(
      hook.posts.map((p) => [p.status, p.episode]),
      [
        ["firing", 1],
        ["resolved", 1],
      ],
    );
    const firingNow = await unaryCall(monitor, monitor.listFiringAlerts, { service: SERVICE });
    assert.deepEqual(firingNow.alerts, []);
    assert.equal((await unaryCall(monitor, monitor.listAlertRules, { service: SERVICE })).rules[0]!.id, rule.id);
  });
});

/*
 * The monitor as a process against a real nats-server: samples published as gateways and agents publish
 * them become queryable points; a restart keeps them; alert rules fire and resolve on real samples, post
 * to webhook servers run here (a 500 is retried, one that never answers delays no other rule), and a
 * restart in the middle of an episode does not fire it twice. Bad requests are INVALID_ARGUMENT naming
 * the field, with nothing written.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { connectJetStreamEventStore, type EventStore } from "@eas/event-store";
import { decodeEvent, event, instanceStream, serviceStream, toNewEvent, type EasEvent } from "@eas/events";
import { encodeGatewaySample, encodeInstanceSample, gatewaySampleSubject, instanceSampleSubject, TrafficRecorder } from "@eas/metrics";
import { MonitorClient, ServiceSpec, unaryCall, type LatestPoint, type QuerySeriesRequest } from "@eas/proto";
import { freePort, startNatsServer, waitFor, type NatsServerHandle } from "@eas/testing";

const SERVICE = "svc";
const INSTANCE = "svc-v1-aaaaaa";
const serviceDir = fileURLToPath(new URL("..", import.meta.url));

let nats: NatsServerHandle;
let nc: NatsConnection;
let store: EventStore;
let monitor: { child: ChildProcess; grpcPort: number; httpPort: number; env: Record<string, string> };
let client: MonitorClient;

async function startMonitor(ports?: { grpcPort: number; httpPort: number }): Promise<void> {
  const grpcPort = ports?.grpcPort ?? (await freePort());
  const httpPort = ports?.httpPort ?? (await freePort());
  const env = {
    ...process.env,
    NATS_URL: nats.url,
    EAS_GRPC_PORT: String(grpcPort),
    EAS_HTTP_PORT: String(httpPort),
    EAS_LOG_LEVEL: process.env.EAS_LOG_LEVEL ?? "warn",
    EAS_MONITOR_FINALIZE_DELAY_MS: "400",
    EAS_MONITOR_WEBHOOK_TIMEOUT_MS: "1500",
    EAS_MONITOR_WEBHOOK_BACKOFF_MS: "200",
  };
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", "src/main.ts"], {
    cwd: serviceDir,
    env,
    stdio: "inherit",
  });
  monitor = { child, grpcPort, httpPort, env };
  await waitFor(
    "the monitor to be ready",
    async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined))?.ok === true,
    {
      timeoutMs: 30_000,
      intervalMs: 200,
    },
  );
  client = new MonitorClient(`127.0.0.1:${grpcPort}`, credentials.createInsecure());
}

async function stopMonitor(): Promise<void> {
  client.close();
  const exited = new Promise((resolve) => monitor.child.once("exit", resolve));
  monitor.child.kill("SIGTERM");
  await exited;
}

async function append(stream: string, e: EasEvent): Promise<void> {
  await store.append(stream, [toNewEvent(e, randomUUID())], { expectedRevision: "any" });
}

/** Waits for the start of the next second, plus `offsetMs`. */
async function nextSecond(offsetMs = 0): Promise<number> {
  const now = Date.now();
  const start = Math.floor(now / 1000) * 1000 + 1000;
  await new Promise((resolve) => setTimeout(resolve, start + offsetMs - now));
  return start;
}

/**
 * Publishes one second of traffic as a gateway does, right after the second ended: `requests` requests of
 * `latencyMs`, `failures` of them answered 500, all served by INSTANCE; and the instance's CPU as its agent does.
 */
function publishSecond(startMs: number, requests: number, latencyMs: number, failures = 0, source = "gw-1"): void {
  const total = new TrafficRecorder();
  const version = new TrafficRecorder();
  const instance = new TrafficRecorder();
  for (let i = 0; i < requests; i++) {
    const code = i < failures ? 500 : 200;
    for (const recorder of [total, version, instance]) recorder.record(code, latencyMs * 1000, 100, 200);
  }
  const sample = {
    service: SERVICE,
    source,
    startMs,
    durationMs: 1000,
    total: total.flush(),
    versions: { 1: version.flush() },
    instances: { [INSTANCE]: { version: 1, traffic: instance.flush(), inFlight: 3 } },
    inFlight: 3,
    queued: 1,
  };
  nc.publish(gatewaySampleSubject(SERVICE), encodeGatewaySample(sample));
  nc.publish(
    instanceSampleSubject(SERVICE, INSTANCE),
    encodeInstanceSample({
      service: SERVICE,
      instanceId: INSTANCE,
      version: 1,
      nodeId: "n1",
      atMs: startMs + 500,
      cpuPercent: 42,
      memoryBytes: 1e8,
    }),
  );
}

/** Publishes traffic every second in the background, as a gateway under steady load does, until stopped. */
function steadyTraffic(requests: number, latencyMs: number, failures: number) {
  const state = { failures, stopped: false, failingSince: 0 };
  const done = (async () => {
    while (!state.stopped) {
      const start = (await nextSecond(30)) - 1000;
      if (state.stopped) break;
      if (state.failures > 0 && state.failingSince === 0) state.failingSince = start;
      publishSecond(start, requests, latencyMs, state.failures);
    }
  })();
  return {
    state,
    async stop() {
      state.stopped = true;
      await done;
    },
  };
}

/** Publishes `seconds` consecutive seconds of traffic live; returns the start of the first. */
async function publishLive(seconds: number, requests: number, latencyMs: number, failures = 0): Promise<number> {
  let first = 0;
  for (let i = 0; i < seconds; i++) {
    const start = (await nextSecond(30)) - 1000;
    if (i === 0) first = start;
    publishSecond(start, requests, latencyMs, failures);
  }
  return first;
}

function query(request: Partial<QuerySeriesRequest>) {
  return unaryCall(client, client.querySeries, {
    service: SERVICE,
    metrics: ["qps"],
    fromMs: 0,
    toMs: 0,
    stepSeconds: 0,
    version: 0,
    instanceId: "",
    breakdown: "",
    ...request,
  });
}

async function rejection(call: Promise<unknown>): Promise<ServiceError> {
  try {
    await call;
  } catch (error) {
    return error as ServiceError;
  }
  assert.fail("expected the call to fail");
}

async function alertEvents(): Promise<EasEvent[]> {
  const events: EasEvent[] = [];
  for await (const recorded of store.readAll()) {
    if (!recorded.stream.startsWith("alert-")) continue;
    const e = decodeEvent(recorded);
    if (e) events.push(e);
  }
  return events;
}

interface Hook {
  server: Server;
  url: string;
  /** Bodies of the posts answered 2xx. */
  delivered: { status: string; episode: number; at: number }[];
  attempts: number;
}

/** A webhook receiver: `answer` picks the status for each post (0: never answer). */
async function startHook(answer: (attempt: number) => number): Promise<Hook> {
  const hook: Hook = { server: createServer(), url: "", delivered: [], attempts: 0 };
  hook.server.on("request", (req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const code = answer(++hook.attempts);
      if (code === 0) return;
      if (code < 300) {
        const parsed = JSON.parse(body) as { status: string; episode: number };
        hook.delivered.push({ status: parsed.status, episode: parsed.episode, at: Date.now() });
      }
      res.writeHead(code).end();
    });
  });
  await new Promise<void>((resolve) => hook.server.listen(0, "127.0.0.1", resolve));
  const address = hook.server.address();
  hook.url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/hook`;
  return hook;
}

before(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  store = await connectJetStreamEventStore({ nc });
  await append(
    serviceStream(SERVICE),
    event("ServiceCreated", {
      name: SERVICE,
      spec: ServiceSpec.fromPartial({ name: SERVICE }),
      version: 1,
      token: "",
      tokenSha256: "",
      createdAt: "2026-01-01T00:00:00Z",
    }),
  );
  await append(
    instanceStream(INSTANCE),
    event("InstanceStarting", { instanceId: INSTANCE, service: SERVICE, nodeId: "n1", restartCount: 0, at: "2026-01-01T00:00:00Z" }),
  );
  await append(
    instanceStream(INSTANCE),
    event("InstanceReady", {
      instanceId: INSTANCE,
      service: SERVICE,
      version: 1,
      nodeId: "n1",
      endpoint: "127.0.0.1:1",
      at: "2026-01-01T00:00:01Z",
    }),
  );
  await startMonitor();
});

after(async () => {
  await stopMonitor().catch(() => undefined);
  await store?.close();
  await nc?.close();
  await nats?.stop();
});

describe("monitor", () => {
  let firstSecond = 0;

  it("turns published samples into points queryable within two seconds, per service, version and instance", async () => {
    const latest: LatestPoint[] = [];
    const watch = client.watchLatest({ service: SERVICE });
    watch.on("data", (point: LatestPoint) => latest.push(point));
    watch.on("error", () => undefined);

    firstSecond = await publishLive(3, 200, 20, 10);
    const publishedAt = Date.now();
    let answered = await query({
      fromMs: firstSecond,
      metrics: ["qps", "error_ratio", "p50", "cpu", "in_flight", "queued", "instances_ready"],
    });
    await waitFor(
      "three points",
      async () => {
        answered = await query({
          fromMs: firstSecond,
          metrics: ["qps", "error_ratio", "p50", "cpu", "in_flight", "queued", "instances_ready"],
        });
        return answered.series[0]!.points.length >= 3;
      },
      { timeoutMs: 5_000, intervalMs: 50 },
    );
    assert.ok(Date.now() - publishedAt < 2_000, `queryable ${Date.now() - publishedAt} ms after the last second ended`);
    const values = Object.fromEntries(answered.series.map((s) => [s.metric, s.points.slice(0, 3).map((p) => p.value)]));
    assert.deepEqual(values.qps, [200, 200, 200]);
    assert.deepEqual(values.error_ratio, [0.05, 0.05, 0.05]);
    assert.ok(
      values.p50!.every((v) => Math.abs(v - 20) < 0.3),
      `p50 ${values.p50}`,
    );
    assert.deepEqual(values.cpu, [42, 42, 42]);
    assert.deepEqual(values.in_flight, [3, 3, 3]);
    assert.deepEqual(values.queued, [1, 1, 1]);
    assert.deepEqual(values.instances_ready, [1, 1, 1]);

    const perInstance = await query({ fromMs: firstSecond, breakdown: "instance", metrics: ["qps", "cpu"] });
    assert.deepEqual(
      perInstance.series.map((s) => [s.metric, s.instanceId, s.version, s.points[0]?.value]),
      [
        ["qps", INSTANCE, 1, 200],
        ["cpu", INSTANCE, 1, 42],
      ],
    );
    const perVersion = await query({ fromMs: firstSecond, version: 1, metrics: ["qps"] });
    assert.equal(perVersion.series[0]!.points[0]!.value, 200);

    await waitFor("a live point", () => latest.some((p) => p.values["qps"] === 200), { timeoutMs: 3_000 });
    const live = latest.find((p) => p.values["qps"] === 200)!;
    assert.equal(live.instances[0]?.instanceId, INSTANCE);
    watch.cancel();
  });

  it("answers INVALID_ARGUMENT naming the field for bad queries and rules, and writes nothing", async () => {
    const cases: [Promise<unknown>, string][] = [
      [query({ service: "nope" }), "service"],
      [query({ metrics: ["p42"] }), "metrics[0]"],
      [query({ stepSeconds: 90 }), "step_seconds"],
    ];
    const rule = { service: SERVICE, metric: "p99", comparison: ">", threshold: 300, windowSeconds: 30, webhookUrl: "", description: "" };
    const create = (overrides: object) => unaryCall(client, client.createAlertRule, { ...rule, ...overrides });
    cases.push(
      [create({ service: "nope" }), "service"],
      [create({ metric: "p42" }), "metric"],
      [create({ windowSeconds: 0 }), "window_seconds"],
      [create({ webhookUrl: "http//missing-colon" }), "webhook_url"],
    );
    for (const [call, field] of cases) {
      const error = await rejection(call);
      assert.equal(error.code, status.INVALID_ARGUMENT, `${field}: ${error.message}`);
      assert.match(error.details, new RegExp(`^${field.replace(/[[\]]/g, "\\$&")}:`));
    }
    assert.deepEqual(await alertEvents(), []);
    assert.deepEqual((await unaryCall(client, client.listAlertRules, { service: "" })).rules, []);
  });

  it("exposes per-service aggregates on /metrics that promtool accepts", async (t) => {
    const text = await (await fetch(`http://127.0.0.1:${monitor.httpPort}/metrics`)).text();
    assert.match(text, /eas_service_responses_total\{service="svc",version="1",code="500"\} 30/);
    assert.match(text, /eas_service_response_time_seconds\{service="svc",quantile="0.5"\} 0\.02/);
    assert.match(text, /eas_service_instances_ready\{service="svc"\} 1/);
    const promtool = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
    if (promtool.error) {
      t.skip(`promtool is not installed (Debian package prometheus): ${promtool.error.message}`);
      return;
    }
    const ours = `${promtool.stdout}${promtool.stderr}`.split("\n").filter((line) => line.startsWith("eas_"));
    assert.deepEqual(ours, [], `promtool complains about the monitor's metrics:\n${ours.join("\n")}`);
  });

  it("keeps its points across a restart", async () => {
    const before = await query({ fromMs: firstSecond, toMs: firstSecond + 3_000, metrics: ["qps", "p50"] });
    await stopMonitor();
    await startMonitor({ grpcPort: monitor.grpcPort, httpPort: monitor.httpPort });
    const afterRestart = await query({ fromMs: firstSecond, toMs: firstSecond + 3_000, metrics: ["qps", "p50"] });
    assert.deepEqual(afterRestart.series, before.series);
    assert.equal(afterRestart.series[0]!.points.length, 3);
  });

  it("fires once per episode, retries a webhook that answers 500, is not delayed by one that never answers, and resolves", async () => {
    const flaky = await startHook((attempt) => (attempt === 1 ? 500 : 204));
    const hanging = await startHook(() => 0);
    const healthy = await startHook(() => 200);
    const rule = { service: SERVICE, metric: "error_ratio", comparison: ">", threshold: 0.1, windowSeconds: 2, description: "" };
    const create = (webhookUrl: string) => unaryCall(client, client.createAlertRule, { ...rule, webhookUrl });
    const hangingRule = await create(hanging.url);
    const flakyRule = await create(flaky.url);
    const healthyRule = await create(healthy.url);

    // Half the requests fail: each rule must fire after 2 s of it.
    const traffic = steadyTraffic(100, 5, 50);
    try {
      await waitFor("the healthy webhook is called", () => healthy.delivered.length > 0, { timeoutMs: 8_000 });
      const firedAfterMs = healthy.delivered[0]!.at - traffic.state.failingSince;
      assert.ok(firedAfterMs < 2_000 + 2_000 + 1_000, `the healthy rule reached its webhook ${firedAfterMs} ms after the failures began`);
      await waitFor("the flaky webhook is retried", () => flaky.delivered.length > 0, { timeoutMs: 5_000 });
      assert.ok(flaky.attempts >= 2);
      const firing = await unaryCall(client, client.listFiringAlerts, { service: SERVICE });
      assert.deepEqual(firing.alerts.map((a) => a.rule!.id).sort(), [hangingRule.id, flakyRule.id, healthyRule.id].sort());

      // A restart in the middle of the episode, while the failures go on, does not fire it again.
      await stopMonitor();
      await startMonitor({ grpcPort: monitor.grpcPort, httpPort: monitor.httpPort });
      await new Promise((resolve) => setTimeout(resolve, 3_500));
      // Then the failures stop: every rule resolves.
      traffic.state.failures = 0;
      await waitFor("resolved reaches the webhook", () => healthy.delivered.some((d) => d.status === "resolved"), { timeoutMs: 5_000 });
      await waitFor("resolved reaches the flaky webhook", () => flaky.delivered.some((d) => d.status === "resolved"), { timeoutMs: 5_000 });
    } finally {
      await traffic.stop();
    }

    const events = await alertEvents();
    for (const id of [hangingRule.id, flakyRule.id, healthyRule.id]) {
      const fired = events.filter((e) => e.type === "eas.v1.AlertFired" && e.data.ruleId === id);
      const resolved = events.filter((e) => e.type === "eas.v1.AlertResolved" && e.data.ruleId === id);
      assert.equal(fired.length, 1, `rule ${id} fired ${fired.length} times`);
      assert.equal(resolved.length, 1, `rule ${id} resolved ${resolved.length} times`);
    }
    assert.deepEqual(
      healthy.delivered.map((d) => [d.status, d.episode]),
      [
        ["firing", 1],
        ["resolved", 1],
      ],
    );
    assert.deepEqual(
      flaky.delivered.map((d) => [d.status, d.episode]),
      [
        ["firing", 1],
        ["resolved", 1],
      ],
    );
    assert.deepEqual((await unaryCall(client, client.listFiringAlerts, { service: "" })).alerts, []);
    const deleted = await unaryCall(client, client.deleteAlertRule, { id: hangingRule.id });
    assert.equal(deleted.id, hangingRule.id);
    for (const hook of [flaky, hanging, healthy]) hook.server.closeAllConnections();
    for (const hook of [flaky, hanging, healthy]) hook.server.close();
  });
});

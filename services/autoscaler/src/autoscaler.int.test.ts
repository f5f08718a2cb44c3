/*
 * The autoscaler and the deployer as processes against a real nats-server (no scheduler: nothing is
 * placed, which changes nothing here). Per-second samples published as gateways publish them scale a
 * service through the deployer with the decision's reason; a user's scale of an autoscaled service is
 * refused; a seconds-level cron job scales a service without a policy; bad input is INVALID_ARGUMENT naming
 * the field with nothing written; a restarted autoscaler resumes without a burst of decisions; of two
 * autoscalers only the lease holder decides.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { connectJetStreamEventStore, type EventStore } from "@eas/event-store";
import { autoscalerStream, cronScaleStream, decodeEvent, serviceStream } from "@eas/events";
import { encodeGatewaySample, gatewaySampleSubject, TrafficRecorder } from "@eas/metrics";
import { AutoscalerClient, ServiceManagerClient, unaryCall, type ScalingPolicy } from "@eas/proto";
import { freePort, startNatsServer, waitFor, type NatsServerHandle } from "@eas/testing";

const servicesDir = fileURLToPath(new URL("../../", import.meta.url));

interface Proc {
  child: ChildProcess;
  grpcPort: number;
  httpPort: number;
}

let nats: NatsServerHandle;
let nc: NatsConnection;
let store: EventStore;
let deployer: Proc;
let deployerClient: ServiceManagerClient;
const autoscalers: Proc[] = [];
let client: AutoscalerClient;

async function startService(name: string, env: Record<string, string>, grpcPort?: number): Promise<Proc> {
  const port = grpcPort ?? (await freePort());
  const httpPort = await freePort();
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", "src/main.ts"], {
    cwd: `${servicesDir}${name}`,
    env: {
      ...process.env,
      NATS_URL: nats.url,
      EAS_GRPC_PORT: String(port),
      EAS_HTTP_PORT: String(httpPort),
      EAS_LOG_LEVEL: process.env.EAS_LOG_LEVEL ?? "warn",
      ...env,
    },
    stdio: "inherit",
  });
  await waitFor(`${name} ready`, async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined))?.ok === true, {
    timeoutMs: 30_000,
    intervalMs: 200,
  });
  return { child, grpcPort: port, httpPort };
}

async function stop(proc: Proc): Promise<void> {
  if (proc.child.exitCode !== null) return;
  const exited = new Promise((resolve) => proc.child.once("exit", resolve));
  proc.child.kill("SIGTERM");
  await exited;
}

async function startAutoscaler(): Promise<Proc> {
  const proc = await startService("autoscaler", {
    EAS_DEPLOYER_ADDR: `127.0.0.1:${deployer.grpcPort}`,
    EAS_AUTOSCALER_LEASE_TTL_MS: "1500",
  });
  autoscalers.push(proc);
  return proc;
}

async function active(proc: Proc): Promise<boolean> {
  const response = await fetch(`http://127.0.0.1:${proc.httpPort}/debug/scaling`).catch(() => undefined);
  return response?.ok === true && ((await response.json()) as { active: boolean }).active;
}

const spec = (name: string, instance = 1) => JSON.stringify({ name, metadata: { instance, cpu: 1, memory: 128 }, processor: "echo" });

async function eventsOf(stream: string) {
  return (await store.readStream(stream)).map((r) => decodeEvent(r)!);
}

async function scaledEvents(service: string) {
  return (await eventsOf(serviceStream(service)))
    .filter((e) => e.type === "eas.v1.ServiceScaled")
    .map((e) => e.data as unknown as Record<string, unknown>);
}

/** Publishes, every second, one gateway's sample of `service` with `qps` requests, until stopped. */
function publishLoad(service: string, qps: () => number): { stop(): void } {
  const timer = setInterval(() => {
    const recorder = new TrafficRecorder();
    const n = qps();
    for (let i = 0; i < n; i++) recorder.record(200, 20_000, 10, 10);
    const startMs = Math.floor(Date.now() / 1000) * 1000 - 1000;
    const total = recorder.flush();
    nc.publish(
      gatewaySampleSubject(service),
      encodeGatewaySample({
        service,
        source: "test-gateway",
        startMs,
        durationMs: 1000,
        total,
        versions: {},
        instances: {},
        inFlight: 0,
        queued: 0,
      }),
    );
  }, 1000);
  return { stop: () => clearInterval(timer) };
}

function grpcCode(promise: Promise<unknown>): Promise<{ code: number; details: string }> {
  return promise.then(
    () => ({ code: status.OK, details: "" }),
    (error: ServiceError) => ({ code: error.code, details: error.details }),
  );
}

before(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  store = await connectJetStreamEventStore({ nc });
  // No scheduler: the deployer's reconciler cannot place anything and says so at every pass; quiet it.
  deployer = await startService("deployer", { EAS_SCHEDULER_ADDR: `127.0.0.1:${await freePort()}`, EAS_LOG_LEVEL: "error" });
  deployerClient = new ServiceManagerClient(`127.0.0.1:${deployer.grpcPort}`, credentials.createInsecure());
  const first = await startAutoscaler();
  client = new AutoscalerClient(`127.0.0.1:${first.grpcPort}`, credentials.createInsecure());
  await waitFor("the autoscaler holds the lease", () => active(first), { timeoutMs: 10_000, intervalMs: 100 });
  for (const name of ["loaded", "cronned", "invalid", "eas"])
    await unaryCall(deployerClient, deployerClient.createService, { spec: spec(name) });
});

after(async () => {
  client?.close();
  deployerClient?.close();
  for (const proc of autoscalers) await stop(proc);
  if (deployer) await stop(deployer);
  await store?.close();
  await nc?.close();
  await nats?.stop();
});

describe("autoscaler", () => {
  it("refuses bad input with INVALID_ARGUMENT naming the field, writing nothing", async () => {
    const policy = (p: ScalingPolicy) => grpcCode(unaryCall(client, client.setPolicy, { service: "invalid", policy: p, easJson: "" }));
    const cases: [Promise<{ code: number; details: string }>, RegExp][] = [
      [policy({ minReplicas: 5, maxReplicas: 2, targetQps: 10 }), /policy\.min_replicas: must not exceed max_replicas/],
      [policy({ targetQps: -1 }), /policy\.target_qps: must be at least 0/],
      [policy({}), /at least one target is required/],
      [
        grpcCode(unaryCall(client, client.setPolicy, { service: "nope", policy: { targetQps: 10 }, easJson: "" })),
        /service: unknown service "nope"/,
      ],
      [
        grpcCode(
          unaryCall(client, client.setPolicy, {
            service: "invalid",
            policy: undefined,
            easJson: '{"min": 1, "scaleStrategies": [{"metricName": "gpu", "threshold": 5}]}',
          }),
        ),
        /eas_json\.scaleStrategies\[0\]\.metricName: unknown metric "gpu"/,
      ],
      [
        grpcCode(
          unaryCall(client, client.setCronJobs, {
            service: "invalid",
            jobs: [{ name: "a", schedule: "0 8 * * *", targetSize: 1, timeZone: "" }],
            excludeDates: [],
          }),
        ),
        /jobs\[0\]\.schedule: must have six fields/,
      ],
      [
        grpcCode(
          unaryCall(client, client.setCronJobs, {
            service: "invalid",
            jobs: [{ name: "a", schedule: "61 * * * * *", targetSize: 1, timeZone: "" }],
            excludeDates: [],
          }),
        ),
        /jobs\[0\]\.schedule: .*second/,
      ],
      [
        grpcCode(
          unaryCall(client, client.setCronJobs, {
            service: "invalid",
            jobs: [{ name: "a", schedule: "0 0 8 * * *", targetSize: 1, timeZone: "Mars/Olympus" }],
            excludeDates: ["2026-02-30"],
          }),
        ),
        /jobs\[0\]\.time_zone: unknown time zone "Mars\/Olympus".*exclude_dates\[0\]/,
      ],
    ];
    for (const [answer, pattern] of cases) {
      const { code, details } = await answer;
      assert.equal(code, status.INVALID_ARGUMENT, details);
      assert.match(details, pattern);
    }
    assert.deepEqual(await store.readStream(autoscalerStream("invalid")), []);
    assert.deepEqual(await store.readStream(cronScaleStream("invalid")), []);
  });

  it("accepts EAS's autoscaler JSON as is", async () => {
    const info = await unaryCall(client, client.setPolicy, {
      service: "eas",
      policy: undefined,
      easJson: JSON.stringify({
        min: 1,
        max: 5,
        scaleStrategies: [
          { metricName: "qps", threshold: 10 },
          { metricName: "cpu", threshold: 50 },
        ],
        behavior: {
          scaleUp: { stabilizationWindowSeconds: 0 },
          scaleDown: { stabilizationWindowSeconds: 120 },
          onZero: { scaleDownGracePeriodSeconds: 600, scaleUpActivationReplicas: 1 },
        },
      }),
    });
    assert.equal(info.policy?.targetQps, 10);
    assert.equal(info.policy?.targetCpuPercent, 50);
    assert.equal(info.policy?.scaleDownStabilizationSeconds, 120);
    assert.equal(info.policy?.stableWindowSeconds, 30, "defaults fill what EAS's JSON does not say");
  });

  it("scales on gateway samples through the deployer, with the decision's reason; a user's scale is then refused", async () => {
    await unaryCall(client, client.setPolicy, {
      service: "loaded",
      policy: { minReplicas: 1, maxReplicas: 8, targetQps: 100 },
      easJson: "",
    });
    const load = publishLoad("loaded", () => 400);
    try {
      await waitFor(
        "the autoscaler's scale to 4",
        async () => (await scaledEvents("loaded")).some((e) => e.cause === "autoscaler" && e.toReplicas === 4),
        {
          timeoutMs: 10_000,
          intervalMs: 100,
        },
      );
    } finally {
      load.stop();
    }
    const scaled = (await scaledEvents("loaded")).find((e) => e.cause === "autoscaler")!;
    // The first second of the step fills half the 2-second panic window: 1 -> 2 at once, then 2 -> 4.
    assert.match(String(scaled.reason), /^panic: qps \d+ over 1 instance, target 100 -> [234]$/);
    const decided = (await eventsOf(autoscalerStream("loaded"))).find((e) => e.type === "eas.v1.ScaleDecided")!;
    assert.equal((decided.data as { reason: string }).reason, scaled.reason, "the decision and the scale carry one reason");
    assert.equal((decided.data as { inputs: { metric: string }[] }).inputs[0]?.metric, "qps");

    const info = await unaryCall(deployerClient, deployerClient.getService, { name: "loaded" });
    assert.equal(info.lastScale?.cause, "autoscaler");
    assert.equal(info.autoscaling, "min 1, max 8");

    const refused = await grpcCode(
      unaryCall(deployerClient, deployerClient.scaleService, { name: "loaded", replicas: 2, cause: "", reason: "" }),
    );
    assert.equal(refused.code, status.FAILED_PRECONDITION);
    assert.match(refused.details, /autoscaled \(min 1, max 8\).*eas autoscale loaded --min N --max M/);
  });

  it("runs a seconds-level cron job once per scheduled time, visible with its state", async () => {
    const info = await unaryCall(client, client.setCronJobs, {
      service: "cronned",
      jobs: [{ name: "up", schedule: "*/3 * * * * *", targetSize: 3, timeZone: "Asia/Shanghai" }],
      excludeDates: [],
    });
    assert.equal(info.jobs[0]?.state, "Waiting");
    await waitFor(
      "the cron job's scale",
      async () => (await scaledEvents("cronned")).some((e) => e.cause === "cron" && e.toReplicas === 3),
      {
        timeoutMs: 8_000,
        intervalMs: 100,
      },
    );
    const scaled = (await scaledEvents("cronned")).find((e) => e.cause === "cron")!;
    assert.equal(scaled.reason, "cron job up -> 3");
    await waitFor(
      "the run's state",
      async () => (await unaryCall(client, client.getCronJobs, { service: "cronned" })).jobs[0]?.state === "Succeeded",
      {
        timeoutMs: 5_000,
        intervalMs: 100,
      },
    );
    // Each scheduled time is recorded once.
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    const runs = (await eventsOf(cronScaleStream("cronned")))
      .filter((e) => e.type === "eas.v1.CronScaleJobRan")
      .map((e) => (e.data as { scheduledAt: string }).scheduledAt);
    assert.ok(runs.length >= 2, JSON.stringify(runs));
    assert.equal(new Set(runs).size, runs.length, `no time twice: ${JSON.stringify(runs)}`);
    await unaryCall(client, client.deleteCronJobs, { service: "cronned" });
  });

  it("a restarted autoscaler resumes from the log without a burst of decisions; of two, only the lease holder decides", async () => {
    const decisions = async () => (await eventsOf(autoscalerStream("loaded"))).filter((e) => e.type === "eas.v1.ScaleDecided").length;
    // A steady load at the count reached: nothing to decide.
    const desired = (await unaryCall(deployerClient, deployerClient.getService, { name: "loaded" })).desiredInstances;
    const load = publishLoad("loaded", () => desired * 100);
    try {
      const standby = await startAutoscaler();
      assert.equal(await active(standby), false, "the second autoscaler waits");
      const before = await decisions();
      await stop(autoscalers[0]!);
      await waitFor("the standby takes over", () => active(standby), { timeoutMs: 10_000, intervalMs: 100 });
      await new Promise((resolve) => setTimeout(resolve, 4_000));
      assert.equal(await decisions(), before, "no decision from the takeover on a steady load");
      const restarted = await startAutoscaler();
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      assert.equal(await active(restarted), false);
      assert.equal(await decisions(), before);
    } finally {
      load.stop();
    }
  });
});

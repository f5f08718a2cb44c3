/**
 * What an operator's tools see of the local cluster: every process's /metrics passes Prometheus' own
 * linter (`promtool check metrics`), and with OTEL_EXPORTER_OTLP_ENDPOINT set, a plain OTLP/HTTP receiver
 * gets one trace per story (docs/operations.md).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import { waitFor } from "@eas/testing";
import { startTestCluster, unaryCall, type TestCluster } from "./cluster-harness.js";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "./otlp-receiver.js";

let t: TestCluster;
let otlp: OtlpReceiver;
let token = "";
const SERVICE = "observed";

before(async () => {
  otlp = await startOtlpReceiver();
  // Exported every 200 ms instead of 5 s, so the test does not wait for the batch processor.
  t = await startTestCluster([{ nodeId: "node-1" }], 90_000, undefined, {
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
    OTEL_BSP_SCHEDULE_DELAY: "200",
  });
  const info = await unaryCall(t.client, t.client.createService, {
    spec: JSON.stringify({ name: SERVICE, metadata: { instance: 1, cpu: 0.25, memory: 128 }, processor: "echo" }),
  });
  token = info.token;
  await waitFor(
    `${SERVICE} to be Running`,
    async () => (await unaryCall(t.client, t.client.getService, { name: SERVICE })).status === "Running",
    { timeoutMs: 60_000, intervalMs: 200 },
  );
  const response = await fetch(`${t.cluster.gatewayUrl}/api/predict/${SERVICE}`, {
    method: "POST",
    headers: { Authorization: token },
    body: '{"ping":1}',
  });
  assert.equal(response.status, 200, await response.text());
});

after(async () => {
  await t?.stop();
  await otlp?.close();
});

const metricsOf = async (httpPort: number) => (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();

describe("metrics", () => {
  it("every process's /metrics passes `promtool check metrics`", async () => {
    const promtool = spawnSync("promtool", ["--version"]);
    assert.ok(!promtool.error, "promtool is missing: `bash scripts/bootstrap.sh --tests` installs it (Debian package prometheus)");
    const agent = [...t.cluster.services.values()].find((s) => s.name.startsWith("agent"))!;
    // The agent samples its instances every 5 s: wait for the instance gauges to be there too.
    await waitFor("the agent's instance gauges", async () => (await metricsOf(agent.httpPort)).includes("eas_instance_cpu_percent{"), {
      timeoutMs: 15_000,
      intervalMs: 500,
    });
    const checked: string[] = [];
    for (const service of t.cluster.services.values()) {
      const text = await metricsOf(service.httpPort);
      const result = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
      assert.equal(result.status, 0, `promtool on ${service.name}'s /metrics:\n${result.stdout}${result.stderr}`);
      assert.equal(`${result.stdout}${result.stderr}`.trim(), "", `${service.name}: promtool has remarks`);
      checked.push(service.name);
    }
    assert.deepEqual(checked.sort(), [
      "agent-node-1",
      "async-queue",
      "autoscaler",
      "billing",
      "deployer",
      "gateway",
      "monitor",
      "scheduler",
    ]);
  });

  it("labels instance gauges with instance_id (Prometheus keeps `instance` for the scrape target)", async () => {
    const agent = [...t.cluster.services.values()].find((s) => s.name.startsWith("agent"))!;
    const text = await metricsOf(agent.httpPort);
    const { instances } = await unaryCall(t.client, t.client.getService, { name: SERVICE });
    for (const name of ["eas_instance_cpu_percent", "eas_instance_memory_bytes"]) {
      assert.match(text, new RegExp(`^${name}\\{instance_id="${instances[0]!.instanceId}",service="${SERVICE}"\\} `, "m"));
    }
    assert.doesNotMatch(text, /\binstance="/);
  });
});

const SERVER = 2;
const CLIENT = 3;

/** The roots of a set of spans: those whose parent is not among them. */
function rootsOf(spans: readonly ReceivedSpan[]): ReceivedSpan[] {
  const ids = new Set(spans.map((s) => s.spanId));
  return spans.filter((s) => !ids.has(s.parentSpanId));
}

/**
 * The spans of one trace, once those that `expected` names have all arrived and every span hangs off another
 * one of the trace but the one root (spans arrive as they end, parents after their children); fails naming
 * what is missing.
 */
async function traceWith(traceId: string, expected: [service: string, name: string][]): Promise<ReceivedSpan[]> {
  const spans = () => otlp.spans.filter((s) => s.traceId === traceId);
  const missing = () => expected.filter(([service, name]) => !spans().some((s) => s.service === service && s.name === name));
  await waitFor("the spans of the trace", () => missing().length === 0 && rootsOf(spans()).length === 1, {
    timeoutMs: 20_000,
    intervalMs: 200,
  }).catch(() => {
    const seen = spans().map((s) => `${s.service}: ${s.name}`);
    const roots = rootsOf(spans()).map((s) => `${s.service}: ${s.name}`);
    throw new Error(
      `trace ${traceId} lacks ${JSON.stringify(missing())} or has roots ${JSON.stringify(roots)}; it has ${JSON.stringify(seen)}`,
    );
  });
  return spans();
}

/** The trace of the one server span of `method` on the deployer that no earlier test used. */
function apiTrace(method: string, seen: Set<string>): string {
  const span = otlp.spans.find(
    (s) => s.service === "eas-deployer" && s.name === `grpc.eas.v1.ServiceManager/${method}` && !seen.has(s.traceId),
  );
  assert.ok(span, `a ${method} server span was exported`);
  seen.add(span.traceId);
  return span.traceId;
}

/** What a change of the service must reach in its own trace: the reconciler, the scheduler, the agent, Ready. */
const DEPLOY_STORY: [string, string][] = [
  ["eas-deployer", `reconcile ${SERVICE}`],
  ["eas-deployer", "grpc.eas.v1.Scheduler/PlaceInstance"],
  ["eas-scheduler", "grpc.eas.v1.Scheduler/PlaceInstance"],
  ["eas-deployer", "grpc.eas.v1.Agent/StartInstance"],
  ["eas-agent", "grpc.eas.v1.Agent/StartInstance"],
  ["eas-agent", `instance start ${SERVICE}`],
];

describe("traces, as an OTLP/HTTP receiver gets them", () => {
  const used = new Set<string>();

  it("a CreateService is one trace: the API call, the reconciler, PlaceInstance, StartInstance and the instance's Ready", async () => {
    const traceId = apiTrace("CreateService", used);
    const spans = await traceWith(traceId, DEPLOY_STORY);
    const started = spans.find((s) => s.name === `instance start ${SERVICE}`)!;
    assert.equal(started.attributes["eas.outcome"], "Ready");
    assert.deepEqual(otlp.rejected, []);
  });

  it("a ScaleService and an UpdateService are each one trace to their instances' Ready", async () => {
    await unaryCall(t.client, t.client.scaleService, { name: SERVICE, replicas: 2 });
    await waitFor(
      "2 instances Running",
      async () => {
        const info = await unaryCall(t.client, t.client.getService, { name: SERVICE });
        return info.status === "Running" && info.runningInstances === 2;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    await traceWith(apiTrace("ScaleService", used), DEPLOY_STORY);

    await unaryCall(t.client, t.client.updateService, {
      name: SERVICE,
      spec: '{"processor_config": {"latency_ms": 1}}',
      updateType: "merge",
    });
    await waitFor(
      "version 2 Running",
      async () => {
        const info = await unaryCall(t.client, t.client.getService, { name: SERVICE });
        return info.status === "Running" && info.currentVersion === 2 && info.instances.every((i) => i.version === 2);
      },
      { timeoutMs: 90_000, intervalMs: 200 },
    );
    // The rolling update's stops of the old instances belong to it too.
    await traceWith(apiTrace("UpdateService", used), [...DEPLOY_STORY, ["eas-agent", "grpc.eas.v1.Agent/StopInstance"]]);
  });

  it("a request is one trace: the gateway's server span, its upstream call, the instance's server span", async () => {
    const gatewayServer = otlp.spans.find((s) => s.service === "eas-gateway" && s.kind === SERVER && s.name === "POST");
    assert.ok(gatewayServer, "the gateway exported its server span");
    const spans = await traceWith(gatewayServer.traceId, [
      ["eas-gateway", "POST"],
      [SERVICE, "POST"],
    ]);
    const upstream = spans.find((s) => s.service === "eas-gateway" && s.kind === CLIENT);
    const instance = spans.find((s) => s.service === SERVICE && s.kind === SERVER);
    assert.ok(upstream && instance, JSON.stringify(spans));
    assert.equal(upstream.parentSpanId, gatewayServer.spanId, "the upstream call is a child of the gateway's server span");
    assert.equal(instance.parentSpanId, upstream.spanId, "the instance continues the upstream call");
  });
});

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
import { startOtlpReceiver, type OtlpReceiver } from "./otlp-receiver.js";

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

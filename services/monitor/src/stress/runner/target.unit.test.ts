import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ServiceInfo } from "@eas/proto";
import { parseServiceDocument, unwrapResult } from "@eas/service-spec";
import { specOf } from "../domain/test-support.js";
import type { DeployerPort } from "./deployer-client.js";
import { resolveTarget, workerServiceSpec } from "./target.js";

const echo = ServiceInfo.fromPartial({
  name: "echo",
  token: "service-token",
  instances: [
    { instanceId: "a", status: "Ready", endpoint: "127.0.0.1:4001" },
    { instanceId: "b", status: "Starting", endpoint: "127.0.0.1:4002" },
    { instanceId: "c", status: "Ready", endpoint: "127.0.0.1:4003" },
  ],
});
const deployer = (service: ServiceInfo | undefined): DeployerPort => ({
  getService: async () => service,
  createService: async () => echo,
  deleteService: async () => undefined,
  close: () => undefined,
});
const noSecrets = { token: undefined, headers: {} };

describe("the workers' target", () => {
  it("through the gateway, with the service's token and the request path", async () => {
    const target = await resolveTarget(
      deployer(echo),
      specOf({ requestPath: "/v1/x", headers: { "content-type": "application/json" } }),
      noSecrets,
      "http://gw:8080/",
    );
    assert.deepEqual(target.urls, ["http://gw:8080/api/predict/echo/v1/x"]);
    assert.deepEqual(target.headers, { "content-type": "application/json", authorization: "service-token" });
    assert.equal(target.connections, 10);
  });
  it("direct: the Ready instances only", async () => {
    const target = await resolveTarget(deployer(echo), specOf({ endpointType: "direct" }), noSecrets, "http://gw:8080");
    assert.deepEqual(target.urls, ["http://127.0.0.1:4001", "http://127.0.0.1:4003"]);
  });
  it("the task's own Authorization header wins over its token, which wins over the service's", async () => {
    assert.equal(
      (await resolveTarget(deployer(echo), specOf(), { token: "mine", headers: {} }, "http://gw")).headers.authorization,
      "mine",
    );
    assert.equal(
      (await resolveTarget(deployer(echo), specOf(), { token: "mine", headers: { authorization: "hdr" } }, "http://gw")).headers
        .authorization,
      "hdr",
    );
  });
  it("a service gone since the task was accepted fails the start", async () => {
    await assert.rejects(resolveTarget(deployer(undefined), specOf(), noSecrets, "http://gw"), /no longer exists/);
  });
});

describe("the workers' service", () => {
  it("is a valid service document: agentCount instances of loadgen, with the task and NATS only (no token)", () => {
    const text = workerServiceSpec("t1", "stress_t1", specOf({ agentCount: 3 }), {
      workerNatsUrl: "nats://n:4222",
      workerCpu: 1,
      workerMemoryMib: 256,
    });
    const spec = unwrapResult(parseServiceDocument(text));
    assert.equal(spec.name, "stress_t1");
    assert.equal(spec.instance, 3);
    assert.equal(spec.runtime?.$case, "processor");
    assert.deepEqual(JSON.parse(spec.runtime?.$case === "processor" ? spec.runtime.value.configJson : "{}"), {
      task: "t1",
      nats_url: "nats://n:4222",
    });
    assert.ok(!text.includes("token"));
  });
});

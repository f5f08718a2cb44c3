import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { agentConfigSpec } from "@eas/agent";
import { asyncQueueConfigSpec } from "@eas/async-queue";
import { autoscalerConfigSpec } from "@eas/autoscaler";
import { billingConfigSpec } from "@eas/billing";
import { deployerConfigSpec } from "@eas/deployer";
import { gatewayConfigSpec } from "@eas/gateway";
import { monitorConfigSpec } from "@eas/monitor";
import { schedulerConfigSpec } from "@eas/scheduler";

// No Docker engine runs on the CI machines, so the compose file is checked against the code:
// every variable each service reads is set, ports line up, Prometheus scrapes every service.

interface ComposeService {
  image?: string;
  build?: unknown;
  command?: string[];
  working_dir?: string;
  environment?: Record<string, string>;
  ports?: string[];
  depends_on?: string[];
}
const compose = parse(readFileSync(new URL("../../docker-compose.yml", import.meta.url), "utf8"), { merge: true }) as {
  services: Record<string, ComposeService>;
};
const prometheus = parse(readFileSync(new URL("../../infra/compose/prometheus.yml", import.meta.url), "utf8")) as {
  scrape_configs: { static_configs: { targets: string[] }[] }[];
};
const scrapeTargets = prometheus.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));

const SPECS: Record<string, Record<string, { name: string }>> = {
  deployer: deployerConfigSpec,
  scheduler: schedulerConfigSpec,
  gateway: gatewayConfigSpec,
  autoscaler: autoscalerConfigSpec,
  "async-queue": asyncQueueConfigSpec,
  monitor: monitorConfigSpec,
  billing: billingConfigSpec,
  "agent-1": agentConfigSpec,
  "agent-2": agentConfigSpec,
};

describe("docker-compose.yml", () => {
  it("runs the infrastructure: NATS with JetStream, KurrentDB, Jaeger with OTLP, Prometheus", () => {
    assert.ok(compose.services.nats?.command?.includes("-js"));
    assert.ok(compose.services.kurrentdb);
    assert.ok(compose.services.jaeger?.ports?.some((p) => p.endsWith(":4318")));
    assert.ok(compose.services.prometheus);
  });

  for (const [name, spec] of Object.entries(SPECS)) {
    it(`${name}: built from the one Dockerfile, with every variable the code reads`, () => {
      const service = compose.services[name];
      assert.ok(service, `service ${name} is missing`);
      assert.ok(service.build !== undefined || service.image === "eas:local", "uses the eas image");
      const program = name.startsWith("agent") ? "agent" : name;
      assert.equal(service.working_dir, `/eas/services/${program}`);
      const env = service.environment ?? {};
      for (const variable of Object.values(spec)) {
        assert.ok(variable.name in env, `${name} does not set ${variable.name}`);
      }
      const httpPort = env.EAS_HTTP_PORT!;
      assert.ok(scrapeTargets.includes(`${name}:${httpPort}`), `Prometheus does not scrape ${name}:${httpPort}`);
      const grpcPort = env.EAS_GRPC_PORT!;
      if (!name.startsWith("agent") && grpcPort !== "0") {
        assert.ok(service.ports?.includes(`${grpcPort}:${grpcPort}`), `${name} gRPC port ${grpcPort} is not published`);
      }
    });
  }

  it("the gateway publishes its data-plane port", () => {
    const port = compose.services.gateway!.environment!.EAS_GATEWAY_PORT!;
    assert.ok(compose.services.gateway!.ports?.includes(`8080:${port}`));
  });

  it("services reach each other by compose service name", () => {
    assert.equal(compose.services.deployer!.environment!.EAS_SCHEDULER_ADDR, "scheduler:50052");
    assert.equal(compose.services["agent-1"]!.environment!.EAS_SCHEDULER_ADDR, "scheduler:50052");
    for (const name of Object.keys(SPECS)) {
      assert.equal(compose.services[name]!.environment!.NATS_URL, "nats://nats:4222");
    }
  });
});

import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { deployDemo } from "./demo.js";
import { startLocalCluster, type LocalCluster } from "./local-cluster.js";

const { values } = parseArgs({
  options: {
    "data-dir": { type: "string", default: process.env.EAS_DATA_DIR ?? ".eas-data" },
    "nats-url": { type: "string", default: process.env.NATS_URL ?? "nats://127.0.0.1:4222" },
    agents: { type: "string", default: "2" },
    "random-ports": { type: "boolean", default: false },
    "no-demo": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});

if (values.help) {
  console.log(`usage: bash scripts/up.sh [--data-dir DIR] [--nats-url URL] [--agents N] [--no-demo] [--random-ports]

Starts the EAS local cluster: nats-server with JetStream (spawned unless one answers at --nats-url),
every control-plane service as its own process, and N agents, then deploys the demo
Iris ONNX model (unless --no-demo). --random-ports picks free ports for NATS (always spawned then) and
every service instead of the defaults, to run beside another cluster. Ctrl-C stops everything in order
(services, agents and their instances, NATS last); state stays in --data-dir.`);
  process.exit(0);
}

const agentCount = Number(values.agents);
const cluster: LocalCluster = await startLocalCluster({
  dataDir: resolve(values["data-dir"]),
  natsUrl: values["nats-url"],
  randomPorts: values["random-ports"],
  agents: Array.from({ length: agentCount }, (_, i) => ({ nodeId: `node-${i + 1}` })),
});

async function waitReady(timeoutMs: number): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  let notReady: string[] = [];
  while (Date.now() < deadline) {
    notReady = [];
    for (const service of cluster.services.values()) {
      if (!service.httpPort) continue;
      const ok = await fetch(`http://127.0.0.1:${service.httpPort}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (!ok) notReady.push(service.name);
    }
    if (notReady.length === 0) return [];
    await new Promise((r) => setTimeout(r, 250));
  }
  return notReady;
}

let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  console.log(`\n${signal}: stopping the local cluster...`);
  await cluster.stop();
  console.log("stopped; state kept in", resolve(values["data-dir"]));
  process.exit(0);
};
process.on("SIGINT", () => void stop("SIGINT"));
process.on("SIGTERM", () => void stop("SIGTERM"));

const notReady = await waitReady(60_000);
if (notReady.length > 0) {
  console.error(`not ready after 60 s: ${notReady.join(", ")}; see the logs above`);
} else {
  console.log(`
EAS local cluster is up.
  NATS            ${cluster.natsUrl}
  deployer gRPC   ${cluster.deployerAddress}   (eas CLI default)
  scheduler gRPC  ${cluster.schedulerAddress}
  async-queue     127.0.0.1:${cluster.services.get("async-queue")?.grpcPort}   (eas queue/batch --async-queue, or EAS_ASYNC_QUEUE_ENDPOINT)
  gateway         ${cluster.gatewayUrl}
  ops ports       ${[...cluster.services.values()].map((s) => `${s.name} ${s.httpPort}`).join(", ")}
                  (http://127.0.0.1:<port>/metrics, /readyz, /healthz, /debug/projections)`);
  if (!values["no-demo"]) {
    try {
      const demo = await deployDemo({
        repoRoot: fileURLToPath(new URL("../..", import.meta.url)),
        natsUrl: cluster.natsUrl,
        deployerAddress: cluster.deployerAddress,
        onProgress: (line) => console.log(`[demo] ${line}`),
      });
      console.log(`
The demo model "iris" (an Iris flower classifier, ONNX) is Running. Call it:

  ${demo.curl}

Open Inference Protocol v2: POST ${demo.info.endpoint}/v2/models/iris/infer`);
    } catch (error) {
      console.error(`[demo] ${(error as Error).message}`);
    }
  }
  console.log("\nTry: ./eas list | ./eas desc iris | ./eas events --follow | Ctrl-C stops the cluster");
}

/**
 * The gateway process of the gateway benchmark: one `createGatewayServer`
 * over a {@link LiveRouteTable} with one service, `bench`, routed to the
 * instance at `127.0.0.1:<backendPort>`. Prints `READY <port>` when listening.
 * With `--workers N` (N > 1) it runs N gateway processes sharing the port
 * through node:cluster, for the separate multi-process figure.
 *
 * With `--sampling` it also counts every request for the monitor as the gateway's app does (GatewaySampler:
 * per-instance counters and HDR histograms, versions and totals merged and one sample encoded per second);
 * the samples go nowhere (one NATS publish a second is not what this measures).
 *
 *   node --conditions=source --import tsx bench/src/gateway-bench-server.ts <backendPort> [--workers N] [--sampling]
 */
import cluster from "node:cluster";
import { createHash } from "node:crypto";
import { createGatewayServer, GatewaySampler, LiveRouteTable, type GatewayServer } from "@eas/gateway";
import { encodeGatewaySample } from "@eas/metrics";

/** The token the benchmark sends (gateway-vs-nginx.ts). */
const BENCH_TOKEN = "bench-token";

const backendPort = Number(process.argv[2]);
const workersFlag = process.argv.indexOf("--workers");
const workers = workersFlag > 0 ? Number(process.argv[workersFlag + 1]) : 1;
if (!Number.isInteger(backendPort) || backendPort <= 0 || !Number.isInteger(workers) || workers < 1) {
  process.stderr.write("usage: gateway-bench-server.ts <backendPort> [--workers N]\n");
  process.exit(2);
}

if (workers > 1 && cluster.isPrimary) {
  // Workers share one listening socket; the primary only relays READY and stops them.
  for (let i = 0; i < workers; i++) cluster.fork();
  let ready = 0;
  cluster.on("message", (_worker, message: { ready?: number }) => {
    if (typeof message.ready === "number" && ++ready === workers) process.stdout.write(`READY ${message.ready}\n`);
  });
  const stop = (): void => {
    process.stdin.destroy();
    for (const worker of Object.values(cluster.workers ?? {})) worker?.kill("SIGTERM");
    setTimeout(() => process.exit(0), 2_000).unref();
    cluster.on("exit", () => {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(0);
    });
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  process.stdin.on("end", stop).on("error", stop).resume();
} else {
  const routes = new LiveRouteTable([
    {
      service: "bench",
      tokenSha256: createHash("sha256").update(BENCH_TOKEN).digest("hex"),
      keepaliveMs: 30_000,
      maxConcurrency: 0,
      maxQueueSize: 1_000,
      rateLimit: 0,
      instances: [{ id: "bench-0", endpoint: `127.0.0.1:${backendPort}`, version: 1 }],
      state: "running",
      stateReason: "",
    },
  ]);
  const sampling: { sampler?: GatewaySampler } = {};
  const gateway: GatewayServer = createGatewayServer({
    routes,
    ...(process.argv.includes("--sampling")
      ? {
          metrics: {
            observe: (service, code, ms, instanceId = "", bytesIn = 0, bytesOut = 0) =>
              sampling.sampler?.record(service, instanceId, code, ms, bytesIn, bytesOut),
          },
        }
      : {}),
  });
  if (process.argv.includes("--sampling")) {
    let published = 0;
    sampling.sampler = new GatewaySampler({
      source: "bench",
      publish: (sample) => (published += encodeGatewaySample(sample).length),
      load: () => gateway.load(),
      versionOf: (service, id) => routes.get(service)?.instances.find((instance) => instance.id === id)?.version ?? 0,
    });
    sampling.sampler.start();
    process.on("exit", () => process.stderr.write(`sampler published ${published} bytes\n`));
  }
  // In a cluster, port 0 is resolved once by the primary and shared by every worker.
  const { port } = await gateway.listen(0, "127.0.0.1");
  if (cluster.isWorker) process.send?.({ ready: port });
  else process.stdout.write(`READY ${port}\n`);

  let stopping = false;
  const stop = (): void => {
    if (stopping) return;
    stopping = true;
    if (!cluster.isWorker) process.stdin.destroy();
    gateway.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  if (!cluster.isWorker) process.stdin.on("end", stop).on("error", stop).resume();
}

/**
 * The gateway process of the gateway benchmark: one `createGatewayServer`
 * over a {@link StaticRouteTable} with one service, `bench`, routed to the
 * instance at `127.0.0.1:<backendPort>`. Prints `READY <port>` when listening.
 *
 *   node --conditions=source --import tsx bench/src/gateway-bench-server.ts <backendPort> [port]
 */
import { createGatewayServer, StaticRouteTable } from "@eas/gateway";

/** The token the benchmark sends. */
export const BENCH_TOKEN = "bench-token";

const backendPort = Number(process.argv[2]);
if (!Number.isInteger(backendPort) || backendPort <= 0) {
  process.stderr.write("usage: gateway-bench-server.ts <backendPort> [port]\n");
  process.exit(2);
}
const routes = new StaticRouteTable([
  {
    service: "bench",
    token: BENCH_TOKEN,
    keepaliveMs: 30_000,
    maxConcurrency: 0,
    maxQueueSize: 1_000,
    rateLimit: 0,
    instances: [{ id: "bench-0", endpoint: `127.0.0.1:${backendPort}`, version: 1 }],
    state: "running",
  },
]);
const gateway = createGatewayServer({ routes });
const { port } = await gateway.listen(Number(process.argv[3] ?? 0), "127.0.0.1");
process.stdout.write(`READY ${port}\n`);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  process.stdin.destroy();
  gateway.close().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop).on("error", stop).resume();

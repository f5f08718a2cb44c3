/**
 * The echo backend of the gateway benchmark: a minimal Node HTTP server that
 * answers every request with the same ~100-byte JSON body. Run as its own
 * process so it has its own event loop. Prints `READY <port>` when listening.
 *
 *   node --conditions=source --import tsx bench/src/gateway-bench-backend.ts [port]
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

const body = Buffer.from(
  JSON.stringify({ id: "bench", outputs: [{ name: "y", shape: [4], datatype: "FP32", data: [0.1, 0.2, 0.3, 0.4] }] }),
);
const headers = { "content-type": "application/json", "content-length": String(body.length) };

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  // Drain any request body before answering so keep-alive connections stay usable.
  if (req.headers["content-length"] || req.headers["transfer-encoding"]) req.resume();
  res.writeHead(200, headers);
  res.end(body);
});
server.listen(Number(process.argv[2] ?? 0), "127.0.0.1", () => {
  process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`);
});
const stop = (): void => {
  process.stdin.destroy();
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// Dies with its parent: the benchmark closes our stdin when it exits, even if it crashes.
process.stdin.on("end", stop).on("error", stop).resume();

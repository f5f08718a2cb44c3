import { createServer, type Server } from "node:http";
import { drainHttpServer, listenOn, type Logger, type ProcessorServer } from "@eas/processor-kit";

/**
 * The worker's own HTTP port, for the agent's probes only: `GET /healthz` answers 200 with the worker's
 * state once it listens to its controller. The worker takes no orders over HTTP: its controller talks to
 * it on NATS, so nothing reachable through the gateway can point it elsewhere.
 */
export function createWorkerServer(state: () => string, logger: Logger, onClose: () => Promise<void>): ProcessorServer {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?", 1)[0];
    if ((req.method === "GET" || req.method === "HEAD") && (path === "/healthz" || path === "/livez")) {
      const body = JSON.stringify({ status: "ok", state: state() });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
      return;
    }
    const body = JSON.stringify({ error: { code: "not_found", message: "a load worker serves /healthz only" } });
    res.writeHead(404, { "content-type": "application/json", "content-length": Buffer.byteLength(body) }).end(body);
  });
  return {
    listen: (port, host = "127.0.0.1") => listenOn(server, port, host, "loadgen"),
    async close() {
      await onClose();
      await drainHttpServer(server, { timeoutMs: 1_000, logger });
    },
  };
}

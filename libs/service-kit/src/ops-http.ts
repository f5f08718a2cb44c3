import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Registry } from "prom-client";

export interface OpsHandlers {
  /** Liveness: the process answers. */
  healthy(): boolean;
  /** Readiness: projections caught up and dependencies connected; `reasons` says what is missing. */
  readiness(): { ready: boolean; reasons: string[] };
  registry: Registry;
  /** Extra JSON endpoints under /debug/, e.g. "projections". */
  debug?: Record<string, () => unknown>;
}

export interface OpsServerHandle {
  readonly port: number;
  readonly server: Server;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, statusCode: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(statusCode, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

/** Serves /healthz, /readyz, /metrics and /debug/* for one service. */
export async function startOpsServer(handlers: OpsHandlers, host: string, port: number): Promise<OpsServerHandle> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    try {
      route(req, res);
    } catch (error) {
      sendJson(res, 500, { error: { code: "internal", message: error instanceof Error ? error.message : String(error) } });
    }
  });
  const route = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/healthz") {
      sendJson(res, handlers.healthy() ? 200 : 503, { status: handlers.healthy() ? "ok" : "unhealthy" });
    } else if (path === "/readyz") {
      const { ready, reasons } = handlers.readiness();
      sendJson(res, ready ? 200 : 503, { status: ready ? "ready" : "not ready", reasons });
    } else if (path === "/metrics") {
      handlers.registry.metrics().then(
        (text) => {
          res.writeHead(200, { "content-type": handlers.registry.contentType });
          res.end(text);
        },
        (error: unknown) => sendJson(res, 500, { error: { code: "metrics_failed", message: String(error) } }),
      );
    } else if (path?.startsWith("/debug/") && handlers.debug?.[path.slice("/debug/".length)]) {
      sendJson(res, 200, handlers.debug[path.slice("/debug/".length)]!());
    } else {
      sendJson(res, 404, { error: { code: "not_found", message: `no route ${path}` } });
    }
  };
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : port,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      }),
  };
}

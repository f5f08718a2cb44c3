import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { Agent, request } from "undici";
import { tokenDigest } from "./auth.js";
import type { GatewayServerOptions } from "./gateway-options.js";
import { createGatewayServer, type GatewayServer } from "./gateway-server.js";
import { LiveRouteTable, type RouteEntry, type RouteInstance } from "./route-table.js";

/** A real HTTP server on 127.0.0.1 and a free port, standing in for an instance. */
export interface TestBackend {
  readonly id: string;
  readonly port: number;
  readonly endpoint: string;
  readonly server: Server;
  /** Requests received so far. */
  hits: number;
  route(version?: number): RouteInstance;
  close(): Promise<void>;
}

/** Starts a backend answering with `handler` (default: JSON echo of method, url and body). */
export async function startBackend(
  id: string,
  handler?: (req: IncomingMessage, res: ServerResponse, backend: TestBackend) => void,
): Promise<TestBackend> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  const backend: TestBackend = {
    id,
    port,
    endpoint: `127.0.0.1:${port}`,
    server,
    hits: 0,
    route: (version = 1) => ({ id, endpoint: `127.0.0.1:${port}`, version }),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    backend.hits++;
    (handler ?? echo)(req, res, backend);
  });
  return backend;
}

/** Answers `{ backend, method, url, headers, body }` as JSON once the request body is read. */
export function echo(req: IncomingMessage, res: ServerResponse, backend: TestBackend): void {
  const chunks: Buffer[] = [];
  req.on("data", (chunk: Buffer) => chunks.push(chunk));
  req.on("end", () => {
    const body = JSON.stringify({
      backend: backend.id,
      method: req.method,
      url: req.url,
      headers: req.headers,
      body: Buffer.concat(chunks).toString(),
    });
    res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  });
}

/** A route entry with test-friendly defaults. */
export function routeEntry(service: string, instances: RouteInstance[], overrides: Partial<RouteEntry> = {}): RouteEntry {
  return {
    service,
    tokenSha256: tokenDigest("secret-token").toString("hex"),
    keepaliveMs: 5_000,
    maxConcurrency: 0,
    maxQueueSize: 100,
    rateLimit: 0,
    instances,
    state: instances.length > 0 ? "running" : "starting",
    stateReason: "",
    ...overrides,
  };
}

/** A gateway on a free port with its own route table and an HTTP client that talks to it. */
export interface TestGateway {
  readonly routes: LiveRouteTable;
  readonly gateway: GatewayServer;
  readonly url: string;
  readonly agent: Agent;
  /** One request through the gateway; the body is read fully. */
  call(path: string, options?: CallOptions): Promise<CallResult>;
  close(): Promise<void>;
}

export interface CallOptions {
  method?: string;
  token?: string | null;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface CallResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  json<T = unknown>(): T;
}

/** Starts a gateway over a fresh {@link LiveRouteTable} holding `entries`. */
export async function startGateway(entries: RouteEntry[], options: Partial<GatewayServerOptions> = {}): Promise<TestGateway> {
  const routes = new LiveRouteTable(entries);
  const gateway = createGatewayServer({ routes, ...options });
  const { port } = await gateway.listen(0);
  const url = `http://127.0.0.1:${port}`;
  const agent = new Agent({ connections: 256 });
  return {
    routes,
    gateway,
    url,
    agent,
    async call(path, callOptions = {}) {
      const headers: Record<string, string> = { ...callOptions.headers };
      const token = callOptions.token === undefined ? "secret-token" : callOptions.token;
      if (token !== null) headers.authorization = token;
      const response = await request(`${url}${path}`, {
        dispatcher: agent,
        method: (callOptions.method ?? (callOptions.body === undefined ? "GET" : "POST")) as "GET",
        headers,
        body: callOptions.body,
      });
      const text = await response.body.text();
      return {
        status: response.statusCode,
        headers: response.headers,
        text,
        json: <T>() => JSON.parse(text) as T,
      };
    },
    async close() {
      await agent.close();
      await gateway.close();
    },
  };
}

/** Resolves after `ms`. */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

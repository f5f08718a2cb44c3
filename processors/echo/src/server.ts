import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Duplex } from "node:stream";
import { setTimeout as sleepFor } from "node:timers/promises";
import { drainHttpServer, listenOn, silentLogger, type Logger } from "@eas/processor-kit";
import { WebSocketServer, type WebSocket } from "ws";
import { DEFAULT_ECHO_CONFIG, type EchoConfig } from "./config.js";
import { createEchoRenderer, echoJsonOf, type EchoRenderer } from "./response.js";

/** Options of {@link createEchoServer}; every field has a default. */
/** A POST here starts the configured stall (`stall_ms`) now, each time: a test starts it while its load runs. */
export const STALL_PATH = "/_echo/stall";

export interface EchoServerOptions {
  /** Behaviour knobs; missing keys take {@link DEFAULT_ECHO_CONFIG}. */
  readonly config?: Partial<EchoConfig>;
  /** Reported in every answer as `instance` (the agent sets `EAS_INSTANCE_ID`). */
  readonly instanceId?: string;
  /** Reported in every answer as `version` (the agent sets `EAS_SERVICE_VERSION`). */
  readonly version?: string;
  /** Source of randomness in [0, 1) for jitter and failure injection; seed it in tests. */
  readonly random?: () => number;
  /** Delay before the socket is bound, to let tests exercise readiness gating. */
  readonly startupDelayMs?: number;
  /** How long {@link EchoServer.close} waits for in-flight work before cutting connections. */
  readonly drainTimeoutMs?: number;
  /** Where request failures are logged. */
  readonly logger?: Logger;
}

/** A running (or startable) echo processor. */
export interface EchoServer {
  /** Waits for the startup delay, then listens; resolves with the bound address. */
  listen(port: number, host?: string): Promise<{ port: number; host: string }>;
  /**
   * Graceful stop: refuses new connections, lets in-flight requests and streams finish,
   * closes WebSockets with 1001, then resolves. Safe to call more than once.
   */
  close(): Promise<void>;
}

/** The server was closed before it started listening (for example SIGTERM during the startup delay). */
export class EchoServerClosedError extends Error {
  override readonly name = "EchoServerClosedError";
  constructor() {
    super("echo server closed before it started listening");
  }
}

/** The request body is larger than `max_body_bytes`. */
class BodyTooLargeError extends Error {
  override readonly name = "BodyTooLargeError";
  constructor(readonly limit: number) {
    super(`request body exceeds ${limit} bytes`);
  }
}

interface Settings {
  readonly config: EchoConfig;
  readonly random: () => number;
  readonly startupDelayMs: number;
  readonly drainTimeoutMs: number;
  readonly logger: Logger;
  readonly renderer: EchoRenderer;
}

function withDefaults(options: EchoServerOptions): Settings {
  const config = { ...DEFAULT_ECHO_CONFIG, ...options.config };
  return {
    config,
    random: options.random ?? Math.random,
    startupDelayMs: options.startupDelayMs ?? 0,
    drainTimeoutMs: options.drainTimeoutMs ?? 30_000,
    logger: options.logger ?? silentLogger,
    renderer: createEchoRenderer({
      instanceId: options.instanceId,
      version: options.version,
      responseBytes: config.responseBytes,
    }),
  };
}

type Mode = "json" | "sse" | "chunked";

function modeOf(path: string, accept: string | undefined): Mode {
  if (path.endsWith("/stream") || accept?.includes("text/event-stream") === true) return "sse";
  if (path.endsWith("/chunked") || accept?.includes("application/x-ndjson") === true) return "chunked";
  return "json";
}

function isAbort(error: unknown): boolean {
  return error instanceof Error && error.name === "AbortError";
}

/**
 * Creates the echo processor: echoes any request as JSON with configurable latency,
 * padding and failure injection; streams server-sent events or chunked NDJSON; echoes
 * WebSocket messages on `/ws`; answers `GET /healthz`.
 */
export function createEchoServer(options: EchoServerOptions = {}): EchoServer {
  const settings = withDefaults(options);
  const { config, renderer, logger } = settings;
  const sockets = new Set<WebSocket>();
  const wss = new WebSocketServer({ noServer: true, maxPayload: config.maxBodyBytes });
  const startup = new AbortController();
  let closing = false;
  let closed: Promise<void> | undefined;
  // The stall's window in performance.now() time: set when the server starts listening, and again by each POST to STALL_PATH.
  let stallWindow: { from: number; to: number } | undefined;

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      logger("error", "request failed", { error: String(error), path: req.url });
      if (!res.headersSent) sendJson(res, 500, `{"error":"internal error","code":"internal"}`);
      else res.destroy();
    });
  });
  server.on("upgrade", onUpgrade);

  function sendJson(res: ServerResponse, status: number, body: string): void {
    if (closing) res.shouldKeepAlive = false;
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(body) });
    res.end(body);
  }

  /** Reads the body with plain events: cheaper than async iteration on the benchmark path. */
  function readBody(req: IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on("data", (chunk: Buffer) => {
        size += chunk.length;
        if (size > config.maxBodyBytes) {
          req.removeAllListeners("data");
          req.resume();
          reject(new BodyTooLargeError(config.maxBodyBytes));
          return;
        }
        chunks.push(chunk);
      });
      req.on("end", () => resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size)));
      req.on("error", reject);
    });
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = req.url ?? "/";
    const query = url.indexOf("?");
    const path = query === -1 ? url : url.slice(0, query);
    if ((req.method === "GET" || req.method === "HEAD") && (path === "/healthz" || path === "/livez")) {
      sendJson(res, closing ? 503 : 200, closing ? `{"status":"closing"}` : `{"status":"ok"}`);
      return;
    }
    let body: Buffer;
    try {
      body = await readBody(req);
    } catch (error) {
      if (!(error instanceof BodyTooLargeError)) throw error;
      res.shouldKeepAlive = false;
      sendJson(res, 413, JSON.stringify({ error: error.message, code: "body_too_large" }));
      return;
    }
    if (path === STALL_PATH && req.method === "POST") {
      if (config.stallMs <= 0) {
        sendJson(res, 404, `{"error":"no stall configured (stall_ms is 0)","code":"no_stall"}`);
        return;
      }
      const from = performance.now();
      stallWindow = { from, to: from + config.stallMs };
      sendJson(res, 200, JSON.stringify({ stall: { ms: config.stallMs } }));
      return;
    }
    let delay = config.latencyMs + (config.latencyJitterMs > 0 ? settings.random() * config.latencyJitterMs : 0);
    if (stallWindow) {
      const now = performance.now();
      if (now >= stallWindow.from && now < stallWindow.to) delay += stallWindow.to - now;
    }
    const mode = modeOf(path, req.headers.accept);
    // Only requests that wait get an abort signal (it stops their timers when the client
    // goes away); the zero-latency JSON path stays allocation-light for benchmarks.
    let signal: AbortSignal | undefined;
    if (delay > 0 || mode !== "json") {
      const abandoned = new AbortController();
      res.on("close", () => abandoned.abort());
      signal = abandoned.signal;
    }
    try {
      if (delay > 0) await sleepFor(delay, undefined, { signal });
      if (config.failureRate > 0 && settings.random() < config.failureRate) {
        sendJson(res, 500, `{"error":"injected failure","code":"injected_failure"}`);
        return;
      }
      const echoJson = echoJsonOf(body, req.headers["content-type"]);
      if (mode === "json") {
        sendJson(res, 200, renderer.render(echoJson, path));
        return;
      }
      await stream(res, mode, echoJson, signal);
    } catch (error) {
      if (!isAbort(error)) throw error;
    }
  }

  async function stream(res: ServerResponse, mode: "sse" | "chunked", echoJson: string, signal?: AbortSignal) {
    if (closing) res.shouldKeepAlive = false;
    res.writeHead(200, {
      "content-type": mode === "sse" ? "text/event-stream" : "application/x-ndjson",
      "cache-control": "no-cache",
      // Tells nginx-like proxies not to buffer, so chunks keep their timing.
      "x-accel-buffering": "no",
    });
    res.flushHeaders();
    for (let index = 0; index < config.streamChunks; index += 1) {
      if (index > 0 && config.chunkIntervalMs > 0) await sleepFor(config.chunkIntervalMs, undefined, { signal });
      if (res.destroyed) return;
      const chunk = renderer.renderChunk(index, echoJson);
      res.write(mode === "sse" ? `id: ${index}\ndata: ${chunk}\n\n` : `${chunk}\n`);
    }
    res.end(mode === "sse" ? "data: [DONE]\n\n" : undefined);
  }

  function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = req.url ?? "/";
    const path = url.split("?", 1)[0] ?? "/";
    if (closing || !(path === "/ws" || path.endsWith("/ws"))) {
      const status = closing ? "503 Service Unavailable" : "404 Not Found";
      socket.end(`HTTP/1.1 ${status}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on("close", () => sockets.delete(ws));
      ws.on("error", (error) => logger("warn", "websocket error", { error: error.message }));
      ws.on("message", (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  }

  async function shutdown(): Promise<void> {
    closing = true;
    startup.abort();
    if (!server.listening) {
      wss.close();
      return;
    }
    const drained = drainHttpServer(server, {
      timeoutMs: settings.drainTimeoutMs,
      logger,
      onTimeout: () => {
        for (const ws of sockets) ws.terminate();
      },
    });
    for (const ws of sockets) ws.close(1001, "server shutting down");
    wss.close();
    await drained;
  }

  return {
    async listen(port, host = "127.0.0.1") {
      if (settings.startupDelayMs > 0) {
        try {
          await sleepFor(settings.startupDelayMs, undefined, { signal: startup.signal });
        } catch (error) {
          if (isAbort(error)) throw new EchoServerClosedError();
          throw error;
        }
      }
      if (closing) throw new EchoServerClosedError();
      const bound = await listenOn(server, port, host, "echo");
      if (config.stallMs > 0) {
        const from = performance.now() + config.stallAfterMs;
        stallWindow = { from, to: from + config.stallMs };
      }
      return bound;
    },
    close() {
      closed ??= shutdown();
      return closed;
    },
  };
}

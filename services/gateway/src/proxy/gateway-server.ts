import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Readable } from "node:stream";
import { Admission, type Rejection } from "./admission.js";
import { isResultsRead, type AsyncExchange } from "./async-requests.js";
import { ColdStart } from "./cold-start.js";
import { RequestDispatcher } from "./dispatcher.js";
import { errorBody, GatewayErrorCode, gatewayErrorStatus, sendError } from "./errors.js";
import { ByteLimit, Exchange } from "./exchange.js";
import { withDefaults, type GatewayServerOptions } from "./gateway-options.js";
import { scanRequestHeaders, splitPredictUrl, type ScannedRequestHeaders } from "./headers.js";
import { InFlight } from "./in-flight.js";
import { RequestObservation } from "./observation.js";
import type { RouteEntry } from "./route-table.js";
import type { ServiceLoadSnapshot, ServiceRoutingSnapshot } from "./service-route.js";
import { ServiceRoutes } from "./service-routes.js";
import { rejectUpgrade, tunnelUpgrade } from "./upgrade.js";

/** The gateway's HTTP data plane. */
export interface GatewayServer {
  /** Starts listening; resolves with the bound port (useful with port 0). */
  listen(port: number, host?: string): Promise<{ port: number }>;
  /** Stops accepting connections, lets in-flight requests finish (bounded by `drainTimeoutMs`), then closes upstream pools and tunnels. */
  close(): Promise<void>;
  /** Routing state of `service`, or undefined when the gateway holds none. */
  snapshot(service: string): ServiceRoutingSnapshot | undefined;
  /** Services with requests queued or in flight now (for the monitor's per-second samples). */
  load(): ServiceLoadSnapshot[];
  readonly server: Server;
}

/**
 * Creates the gateway's HTTP data plane: `/api/predict/{service}[/path]`
 * proxied to the service's Ready instances with token auth, least-outstanding
 * balancing under a per-instance concurrency limit, a bounded per-service
 * queue (450 when full), a per-service rate limit (429), request timeouts
 * (504), one retry elsewhere for requests that never reached their instance
 * (502 otherwise), streaming both ways, and WebSocket pass-through.
 *
 * Its parts: `ServiceRoutes` (the routes, following the route table),
 * `Admission` (the checks at the door, for requests and upgrades alike),
 * `RequestDispatcher` (sending, queueing, retrying), `Exchange` (one request
 * and its response), `RequestObservation` (every answer, once) and `InFlight`
 * (what a graceful close waits for). This function only wires them to the
 * HTTP server.
 */
export function createGatewayServer(options: GatewayServerOptions): GatewayServer {
  const settings = withDefaults(options);
  const { now, logger, maxBodyBytes } = settings;
  const inFlight = new InFlight();
  const observation = new RequestObservation(settings.metrics, now);
  const dispatcher = new RequestDispatcher(settings, inFlight, observation);
  const coldStart = new ColdStart(settings.coldStart, settings.retryAfter);
  const routes = new ServiceRoutes<Exchange>(settings.routes, now, logger, (route) => {
    if (!route.holdsRequests) coldStart.forget(route.name);
    dispatcher.pump(route);
  });
  const admission = new Admission(maxBodyBytes, settings.retryAfter);
  const asyncRequests = settings.asyncRequests;
  const tunnels = new Set<Socket>();

  /** Answers a request that was not admitted; observed like any other answer. */
  function reject(service: string, res: ServerResponse, start: number, rejection: Rejection): void {
    sendError(res, rejection.code, rejection.message, rejection.closeConnection || inFlight.closing, rejection.headers);
    observation.answered(service, gatewayErrorStatus[rejection.code], start);
  }

  /** Answers an upgrade that was not admitted, as a plain request would have been answered, and closes the connection. */
  function refuseUpgrade(service: string, socket: Socket, start: number, rejection: Rejection): void {
    const status = gatewayErrorStatus[rejection.code];
    rejectUpgrade(socket, status, errorBody(rejection.code, rejection.message), rejection.headers);
    observation.answered(service, status, start);
  }

  /** The request handler: admission, then dispatch or queue. */
  function handle(req: IncomingMessage, res: ServerResponse): void {
    const start = now();
    const url = req.url ?? "/";
    const target = splitPredictUrl(url);
    if (!target) {
      sendError(res, GatewayErrorCode.NotFound, notFoundMessage(req.method, url), inFlight.closing);
      return;
    }
    const route = routes.get(target.service);
    if (!route) {
      sendError(res, GatewayErrorCode.ServiceNotFound, `service ${target.service} not found`, inFlight.closing);
      return;
    }
    const scanned = scanRequestHeaders(req.rawHeaders);
    const readsResults = route.entry.async !== undefined && isResultsRead(req.method, target.path);
    const outcome = admission.check(route, req.socket, scanned.authorization, scanned.contentLength, start, readsResults);
    if (outcome.kind === "reject") {
      reject(route.name, res, start, outcome.rejection);
      return;
    }
    if (outcome.kind === "enqueue" || outcome.kind === "results") {
      handOverAsync(
        outcome.kind,
        outcome.kind === "enqueue" ? outcome.maxBodyBytes : 0,
        route.entry,
        req,
        res,
        target.path,
        scanned,
        start,
      );
      return;
    }
    const held = outcome.kind === "hold";
    if (held && !coldStart.hasRoom(route)) {
      reject(route.name, res, start, {
        code: GatewayErrorCode.ServiceUnavailable,
        message: coldStart.fullMessage(route),
        closeConnection: false,
        headers: ["retry-after", coldStart.retryAfter],
      });
      return;
    }
    const upstream = held ? undefined : route.pick(start);
    if (!held && !upstream && route.queue.isFull) {
      reject(route.name, res, start, {
        code: GatewayErrorCode.QueueFull,
        message: `service ${route.name} queue is full (${route.entry.maxQueueSize} waiting)`,
        closeConnection: false,
      });
      return;
    }

    const headers = scanned.forward;
    const remote = req.socket.remoteAddress;
    const forwardedFor =
      scanned.forwardedFor === undefined ? remote : remote === undefined ? scanned.forwardedFor : `${scanned.forwardedFor}, ${remote}`;
    if (forwardedFor !== undefined) headers.push("x-forwarded-for", forwardedFor);
    const requestId = scanned.requestId ?? randomUUID();
    headers.push("x-request-id", requestId);

    let body: Readable | null = null;
    if (scanned.chunked) {
      body = req.pipe(new ByteLimit(maxBodyBytes));
    } else if (scanned.contentLength > 0) {
      // Node's parser delivers exactly Content-Length bytes, so admission's up-front check is enough.
      body = req;
    }

    // Admitted: a client waiting on Expect: 100-continue may send its body now (a rejected one never had to).
    if (scanned.expectContinue) res.writeContinue();
    const exchange = new Exchange(dispatcher, route, req, res, requestId, start, target.path, headers, body);
    if (scanned.contentLength > 0) exchange.bytesIn = scanned.contentLength;
    if (held) dispatcher.admitHeld(exchange, (waiting) => coldStart.hold(waiting, Date.now()));
    else dispatcher.admit(exchange, upstream);
  }

  /** A request to an async service: queued, or reading results, by the gateway's async requests. */
  function handOverAsync(
    kind: "enqueue" | "results",
    maxBody: number,
    entry: RouteEntry,
    req: IncomingMessage,
    res: ServerResponse,
    path: string,
    scanned: ScannedRequestHeaders,
    start: number,
  ): void {
    if (!asyncRequests) {
      reject(entry.service, res, start, {
        code: GatewayErrorCode.ServiceUnavailable,
        message: `service ${entry.service} is async, and this gateway serves no async requests`,
        closeConnection: false,
      });
      return;
    }
    if (scanned.expectContinue) res.writeContinue();
    const exchange: AsyncExchange = {
      route: entry,
      req,
      res,
      path,
      headers: scanned.forward,
      contentLength: scanned.chunked ? -1 : scanned.contentLength,
      maxBodyBytes: maxBody,
      closing: inFlight.closing,
      answered: (status) => observation.answered(entry.service, status, start),
    };
    if (kind === "enqueue") asyncRequests.enqueue(exchange);
    else asyncRequests.readResults(exchange);
  }

  /** WebSocket (and any other Upgrade) on /api/predict/{service}/...: admitted like a request, then tunnelled as raw TCP. */
  function handleUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const start = now();
    const url = req.url ?? "/";
    const target = splitPredictUrl(url);
    if (!target) {
      rejectUpgrade(socket, 404, errorBody(GatewayErrorCode.NotFound, notFoundMessage(req.method, url)));
      return;
    }
    const route = routes.get(target.service);
    if (!route) {
      rejectUpgrade(socket, 404, errorBody(GatewayErrorCode.ServiceNotFound, `service ${target.service} not found`));
      return;
    }
    const scanned = scanRequestHeaders(req.rawHeaders);
    const outcome = admission.check(route, socket, scanned.authorization, scanned.contentLength, start);
    // A tunnel is not held at zero: it is refused like a request without an instance, and the service woken.
    if (outcome.kind === "hold") settings.coldStart.onHold?.(route.name, 0);
    const rejection =
      outcome.kind === "reject"
        ? outcome.rejection
        : outcome.kind === "hold"
          ? scalingUp(route.name, settings.retryAfter)
          : outcome.kind !== "proxy"
            ? ASYNC_UPGRADE
            : inFlight.closing
              ? SHUTTING_DOWN
              : undefined;
    if (rejection) {
      refuseUpgrade(route.name, socket, start, rejection);
      return;
    }
    // Admitted, so the route is routable and this finds an instance.
    const upstream = route.pickForTunnel(start);
    if (!upstream) {
      refuseUpgrade(route.name, socket, start, {
        code: GatewayErrorCode.ServiceUnavailable,
        message: "no ready instance",
        closeConnection: true,
      });
      return;
    }
    tunnels.add(socket);
    socket.once("close", () => tunnels.delete(socket));
    tunnelUpgrade({
      req,
      socket,
      head,
      endpoint: upstream.endpoint,
      path: target.path,
      responseHeaders: ["X-Eas-Instance", upstream.id],
      onUpstreamError: (err) => {
        dispatcher.eject(upstream);
        logger.warn({ service: route.name, instance: upstream.id, err: err.message }, "websocket upstream failed");
      },
    });
  }

  async function close(server: Server): Promise<void> {
    inFlight.startClosing();
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await Promise.all([inFlight.drained(settings.drainTimeoutMs), asyncRequests?.close()]);
    const remaining = routes.close();
    for (const socket of tunnels) socket.destroy();
    server.closeAllConnections();
    const pools: Promise<void>[] = [];
    for (const route of remaining) {
      dispatcher.failQueued(route, GatewayErrorCode.ShuttingDown, "gateway is shutting down", true);
      pools.push(...route.destroy());
    }
    await Promise.all(pools);
    await closed;
  }

  const server = createServer({ keepAliveTimeout: 65_000 }, handle);
  // Without this listener Node would answer 100 Continue before the gateway has checked the token and limits.
  server.on("checkContinue", handle);
  server.on("upgrade", handleUpgrade);
  server.on("clientError", (err: NodeJS.ErrnoException, socket: Socket) => {
    if (err.code === "ECONNRESET" || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  });
  let closing: Promise<void> | undefined;
  return {
    server,
    listen(port: number, host = "127.0.0.1"): Promise<{ port: number }> {
      return new Promise((resolve, reject) => {
        const onError = (err: Error): void => reject(err);
        server.once("error", onError);
        server.listen(port, host, () => {
          server.off("error", onError);
          const address = server.address();
          resolve({ port: typeof address === "object" && address ? address.port : port });
        });
      });
    },
    close(): Promise<void> {
      closing ??= close(server);
      return closing;
    },
    snapshot: (service) => routes.get(service)?.snapshot(now()),
    load: () => routes.load(),
  };
}

const ASYNC_UPGRADE: Rejection = {
  code: GatewayErrorCode.BadRequest,
  message: "an async service takes requests to queue and streams results with GET .../results (text/event-stream), not upgrades",
  closeConnection: true,
};

function scalingUp(service: string, retryAfter: string): Rejection {
  return {
    code: GatewayErrorCode.ServiceUnavailable,
    message: `service ${service} is scaling up from zero; retry the upgrade shortly`,
    closeConnection: true,
    headers: ["retry-after", retryAfter],
  };
}

const SHUTTING_DOWN: Rejection = { code: GatewayErrorCode.ShuttingDown, message: "gateway is shutting down", closeConnection: true };

function notFoundMessage(method: string | undefined, url: string): string {
  return `no route for ${method} ${url.split("?")[0]}; inference lives under /api/predict/{service}`;
}

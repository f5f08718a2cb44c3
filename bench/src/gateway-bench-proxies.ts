/**
 * Reference proxies for the gateway benchmark: the smallest Node reverse
 * proxies that can be written on each undici API (and on node:http), with
 * none of the gateway's features (no auth, balancing, limits, timeouts).
 * They bound what the gateway can reach on a given transport, and so show
 * how much of the gap to nginx is the transport and how much is the gateway.
 * Prints `READY <port>` when listening.
 *
 *   node --conditions=source --import tsx bench/src/gateway-bench-proxies.ts <stream|request|dispatch|raw|node-http> <backendPort>
 */
import { Agent as HttpAgent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";
import { Writable } from "node:stream";
import { Pool, type Dispatcher } from "undici";

const variant = process.argv[2];
const backendPort = Number(process.argv[3]);
const origin = `http://127.0.0.1:${backendPort}`;
const pool = new Pool(origin, { connections: null, pipelining: 1, keepAliveTimeout: 60_000 });
const PREFIX = "/api/predict/bench";

function upstreamPath(url: string): string {
  const rest = url.slice(PREFIX.length);
  return rest === "" ? "/" : rest;
}

/** Response headers from undici's object form, hop-by-hop ones dropped. */
function copyHeaders(headers: Record<string, string | string[] | undefined>, res: ServerResponse): void {
  for (const name in headers) {
    if (name === "connection" || name === "keep-alive" || name === "transfer-encoding") continue;
    const value = headers[name];
    if (value !== undefined) res.setHeader(name, value);
  }
}

function fail(res: ServerResponse, err: unknown): void {
  if (!res.headersSent) {
    res.statusCode = 502;
    res.end(String(err));
  } else {
    res.destroy();
  }
}

const handlers: Record<string, (req: IncomingMessage, res: ServerResponse) => void> = {
  request(req, res) {
    pool
      .request({
        path: upstreamPath(req.url ?? "/"),
        method: req.method as Dispatcher.HttpMethod,
        headers: { "x-forwarded-for": req.socket.remoteAddress ?? "" },
      })
      .then(({ statusCode, headers, body }) => {
        res.statusCode = statusCode;
        copyHeaders(headers, res);
        body.pipe(res);
      })
      .catch((err: unknown) => fail(res, err));
  },
  stream(req, res) {
    pool
      .stream(
        {
          path: upstreamPath(req.url ?? "/"),
          method: req.method as Dispatcher.HttpMethod,
          headers: { "x-forwarded-for": req.socket.remoteAddress ?? "" },
        },
        ({ statusCode, headers }) => {
          res.statusCode = statusCode;
          copyHeaders(headers, res);
          return res as unknown as Writable;
        },
      )
      .catch((err: unknown) => fail(res, err));
  },
  dispatch(req, res) {
    pool.dispatch(
      {
        path: upstreamPath(req.url ?? "/"),
        method: req.method as Dispatcher.HttpMethod,
        headers: ["x-forwarded-for", req.socket.remoteAddress ?? ""],
      },
      {
        onConnect() {},
        onHeaders(statusCode: number, raw: Buffer[]) {
          const flat: string[] = [];
          for (let k = 0; k < raw.length; k += 2) {
            const name = (raw[k] as Buffer).toString("latin1");
            const lower = name.toLowerCase();
            if (lower === "connection" || lower === "keep-alive" || lower === "transfer-encoding") continue;
            flat.push(name, (raw[k + 1] as Buffer).toString("latin1"));
          }
          res.writeHead(statusCode, flat);
          return true;
        },
        onData(chunk: Buffer) {
          return res.write(chunk);
        },
        onComplete() {
          res.end();
        },
        onError(err: Error) {
          fail(res, err);
        },
      },
    );
  },
  // Not a usable HTTP client: Content-Length responses only, no errors handled. It measures the floor
  // of a Node proxy whose upstream side is one socket write and a string split per request.
  raw: (() => {
    const idle: Socket[] = [];
    const HEAD_END = Buffer.from("\r\n\r\n");
    return (req: IncomingMessage, res: ServerResponse) => {
      const socket = idle.pop() ?? connect({ host: "127.0.0.1", port: backendPort, noDelay: true });
      let buffered: Buffer | null = null;
      let status = 0;
      let headers: string[] = [];
      let remaining = -1;
      const onData = (chunk: Buffer): void => {
        buffered = buffered === null ? chunk : Buffer.concat([buffered, chunk]);
        if (remaining < 0) {
          const end = buffered.indexOf(HEAD_END);
          if (end < 0) return;
          const lines = buffered.toString("latin1", 0, end).split("\r\n");
          status = Number((lines[0] as string).slice(9, 12));
          headers = [];
          for (let i = 1; i < lines.length; i++) {
            const line = lines[i] as string;
            const colon = line.indexOf(":");
            const name = line.slice(0, colon);
            const value = line.slice(colon + 1).trim();
            const lower = name.toLowerCase();
            if (lower === "content-length") remaining = Number(value);
            if (lower === "connection" || lower === "keep-alive" || lower === "transfer-encoding") continue;
            headers.push(name, value);
          }
          buffered = buffered.subarray(end + 4);
        }
        if (buffered.length < remaining) return;
        socket.off("data", onData);
        res.writeHead(status, headers);
        res.end(buffered);
        idle.push(socket);
      };
      socket.on("data", onData);
      socket.write(
        `${req.method} ${upstreamPath(req.url ?? "/")} HTTP/1.1\r\nhost: 127.0.0.1:${backendPort}\r\nx-forwarded-for: ${req.socket.remoteAddress}\r\n\r\n`,
        "latin1",
      );
    };
  })(),
  "node-http": (() => {
    const agent = new HttpAgent({ keepAlive: true, maxSockets: 256 });
    return (req: IncomingMessage, res: ServerResponse) => {
      const upstream = httpRequest(
        {
          host: "127.0.0.1",
          port: backendPort,
          path: upstreamPath(req.url ?? "/"),
          method: req.method,
          agent,
          headers: { "x-forwarded-for": req.socket.remoteAddress ?? "" },
        },
        (up) => {
          res.statusCode = up.statusCode ?? 502;
          copyHeaders(up.headers, res);
          up.pipe(res);
        },
      );
      upstream.on("error", (err) => fail(res, err));
      upstream.end();
    };
  })(),
};

const handler = variant === undefined ? undefined : handlers[variant];
if (!handler || !Number.isInteger(backendPort) || backendPort <= 0) {
  process.stderr.write(`usage: gateway-bench-proxies.ts <${Object.keys(handlers).join("|")}> <backendPort>\n`);
  process.exit(2);
}
const server = createServer({ keepAliveTimeout: 65_000 }, handler);
server.listen(0, "127.0.0.1", () => process.stdout.write(`READY ${(server.address() as AddressInfo).port}\n`));
const stop = (): void => {
  process.stdin.destroy();
  server.close(() => process.exit(0));
  server.closeAllConnections();
  void pool.destroy();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.stdin.on("end", stop).on("error", stop).resume();

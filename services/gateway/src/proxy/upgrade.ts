import { STATUS_CODES, type IncomingMessage } from "node:http";
import { connect, type Socket } from "node:net";
import { reasonPhrase } from "./errors.js";

/** What {@link tunnelUpgrade} needs to pass an Upgrade request through to an instance. */
export interface TunnelOptions {
  req: IncomingMessage;
  socket: Socket;
  /** Bytes the client sent after the request head (already read by Node). */
  head: Buffer;
  /** `host:port` of the instance. */
  endpoint: string;
  /** Path (and query) on the instance. */
  path: string;
  /** Flat `[name, value, ...]` headers added to the instance's response head (e.g. `X-Eas-Instance`). */
  responseHeaders: readonly string[];
  /** Called when the instance cannot be reached; the client has been answered 502 by then. */
  onUpstreamError(err: Error): void;
}

/**
 * Passes an HTTP Upgrade (WebSocket) through as raw TCP: connects to the
 * instance, replays the request head with the rewritten path and an
 * `X-Forwarded-For`, adds `responseHeaders` to the instance's response head,
 * then pipes bytes both ways untouched, so any subprotocol, extension or
 * frame size works and the gateway never parses frames. An instance that
 * refuses the upgrade (any status) is answered through as is.
 */
export function tunnelUpgrade(options: TunnelOptions): void {
  const { req, socket, head, endpoint, path } = options;
  const colon = endpoint.lastIndexOf(":");
  const host = endpoint.slice(0, colon);
  const port = Number(endpoint.slice(colon + 1));
  const upstream = connect({ host: host.startsWith("[") ? host.slice(1, -1) : host, port });
  let connected = false;

  socket.on("error", () => upstream.destroy());
  socket.on("close", () => upstream.destroy());
  upstream.on("error", (err: Error) => {
    if (!connected) {
      options.onUpstreamError(err);
      rejectUpgrade(
        socket,
        502,
        Buffer.from(
          JSON.stringify({
            error: { code: "BadGateway", message: `instance unreachable: ${(err as NodeJS.ErrnoException).code ?? err.message}` },
          }),
        ),
      );
    } else {
      socket.destroy();
    }
  });
  upstream.on("close", () => {
    if (connected) socket.destroy();
  });
  upstream.once("connect", () => {
    connected = true;
    upstream.setNoDelay(true);
    socket.setNoDelay(true);
    const lines = [`${req.method ?? "GET"} ${path} HTTP/1.1`];
    const raw = req.rawHeaders;
    let forwardedFor: string | undefined;
    for (let k = 0; k + 1 < raw.length; k += 2) {
      const name = raw[k] as string;
      const lower = name.toLowerCase();
      if (lower === "x-forwarded-for") {
        forwardedFor = raw[k + 1];
        continue;
      }
      if (lower === "proxy-authorization" || lower === "proxy-connection") continue;
      lines.push(`${name}: ${raw[k + 1]}`);
    }
    const remote = socket.remoteAddress;
    if (remote !== undefined) lines.push(`X-Forwarded-For: ${forwardedFor === undefined ? remote : `${forwardedFor}, ${remote}`}`);
    upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
    if (head.length > 0) upstream.write(head);
    socket.pipe(upstream);
    forwardResponseHead(upstream, socket, options.responseHeaders);
  });
}

const HEAD_END = Buffer.from("\r\n\r\n");
const MAX_HEAD_BYTES = 64 * 1024;

/**
 * Reads the instance's response head (up to the blank line), adds `extra`
 * headers to it, sends it on, then pipes the rest of the connection untouched.
 */
function forwardResponseHead(upstream: Socket, socket: Socket, extra: readonly string[]): void {
  let buffered: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    const end = buffered.indexOf(HEAD_END);
    if (end < 0) {
      if (buffered.length > MAX_HEAD_BYTES) {
        upstream.destroy();
        socket.destroy();
      }
      return;
    }
    upstream.off("data", onData);
    let added = "";
    for (let k = 0; k + 1 < extra.length; k += 2) added += `\r\n${extra[k]}: ${extra[k + 1]}`;
    socket.write(Buffer.concat([buffered.subarray(0, end), Buffer.from(added), buffered.subarray(end)]));
    upstream.pipe(socket);
  };
  upstream.on("data", onData);
}

/** Answers an Upgrade request with a plain HTTP error and closes the connection. */
export function rejectUpgrade(socket: Socket, status: number, body: Buffer, extraHeaders: readonly string[] = []): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  const reason = reasonPhrase(status) ?? STATUS_CODES[status] ?? "Error";
  let head = `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n`;
  for (let k = 0; k + 1 < extraHeaders.length; k += 2) head += `${extraHeaders[k]}: ${extraHeaders[k + 1]}\r\n`;
  socket.end(Buffer.concat([Buffer.from(`${head}\r\n`), body]));
}

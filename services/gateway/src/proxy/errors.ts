import type { ServerResponse } from "node:http";

/** Error codes the gateway answers with, each with its HTTP status. */
export const GatewayErrorCode = {
  BadRequest: "BadRequest",
  Unauthorized: "Unauthorized",
  ServiceNotFound: "ServiceNotFound",
  NotFound: "NotFound",
  ServiceUnavailable: "ServiceUnavailable",
  PayloadTooLarge: "PayloadTooLarge",
  QueueFull: "QueueFull",
  RateLimited: "RateLimited",
  UpstreamTimeout: "UpstreamTimeout",
  BadGateway: "BadGateway",
  ShuttingDown: "ShuttingDown",
  /** An async request id that is unknown, or whose result was removed after its retention. */
  RequestNotFound: "RequestNotFound",
  /** An async request that was dead-lettered: every attempt failed. */
  RequestFailed: "RequestFailed",
} as const;
export type GatewayErrorCode = (typeof GatewayErrorCode)[keyof typeof GatewayErrorCode];

/** HTTP status of each {@link GatewayErrorCode}; 450 is EAS's own "queue full". */
export const gatewayErrorStatus: Readonly<Record<GatewayErrorCode, number>> = {
  BadRequest: 400,
  Unauthorized: 401,
  ServiceNotFound: 404,
  NotFound: 404,
  ServiceUnavailable: 503,
  PayloadTooLarge: 413,
  QueueFull: 450,
  RateLimited: 429,
  UpstreamTimeout: 504,
  BadGateway: 502,
  ShuttingDown: 503,
  RequestNotFound: 404,
  RequestFailed: 502,
};

/** Reason phrase for statuses Node does not know (450). */
export function reasonPhrase(status: number): string | undefined {
  return status === 450 ? "Queue Full" : undefined;
}

/** The JSON body of every error the gateway itself produces. */
export interface GatewayErrorBody {
  error: { code: GatewayErrorCode; message: string };
}

/** Serialises an error body. */
export function errorBody(code: GatewayErrorCode, message: string): Buffer {
  const body: GatewayErrorBody = { error: { code, message } };
  return Buffer.from(JSON.stringify(body));
}

/**
 * Answers `res` with a gateway error (JSON body, `extraHeaders` as flat `[name, value, ...]`) unless
 * a response has started already; `closeConnection` ends a kept-alive connection after it.
 */
export function sendError(
  res: ServerResponse,
  code: GatewayErrorCode,
  message: string,
  closeConnection: boolean,
  extraHeaders?: readonly string[],
): void {
  if (res.headersSent || res.destroyed) return;
  const status = gatewayErrorStatus[code];
  const body = errorBody(code, message);
  const headers = ["content-type", "application/json", "content-length", String(body.length)];
  if (extraHeaders) for (const item of extraHeaders) headers.push(item);
  if (closeConnection) res.shouldKeepAlive = false;
  const reason = reasonPhrase(status);
  if (reason) res.writeHead(status, reason, headers);
  else res.writeHead(status, headers);
  res.end(body);
}

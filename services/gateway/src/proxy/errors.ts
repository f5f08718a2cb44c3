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

import { commonConfigSpec, envVar } from "@eas/service-kit";

/** Every environment variable the gateway reads. */
export const gatewayConfigSpec = {
  ...commonConfigSpec({ grpcPort: 0, httpPort: 9100 }),
  port: envVar.int("EAS_GATEWAY_PORT", 8080, "HTTP data plane port: /api/predict/{service}"),
  sampling: envVar.bool("EAS_GATEWAY_SAMPLING", true, "publish per-second traffic samples of each active service for the monitor"),
  maxBodyBytes: envVar.int("EAS_GATEWAY_MAX_BODY_BYTES", 10 * 1024 * 1024, "largest request body accepted (413 past it)"),
  holdMaxRequests: envVar.int(
    "EAS_GATEWAY_HOLD_MAX_REQUESTS",
    100,
    "requests held per service while it scales up from zero (503 with Retry-After past it)",
  ),
  holdMaxWaitMs: envVar.int(
    "EAS_GATEWAY_HOLD_MAX_WAIT_MS",
    30_000,
    "longest wait of a request held for a service scaling up from zero (503 with Retry-After after it)",
  ),
};

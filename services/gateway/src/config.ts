import { commonConfigSpec, envVar } from "@eas/service-kit";

/** Every environment variable the gateway reads. */
export const gatewayConfigSpec = {
  ...commonConfigSpec({ grpcPort: 0, httpPort: 9100 }),
  port: envVar.int("EAS_GATEWAY_PORT", 8080, "HTTP data plane port: /api/predict/{service}"),
  sampling: envVar.bool("EAS_GATEWAY_SAMPLING", true, "publish per-second traffic samples of each active service for the monitor"),
  maxBodyBytes: envVar.int("EAS_GATEWAY_MAX_BODY_BYTES", 10 * 1024 * 1024, "largest request body accepted (413 past it)"),
};

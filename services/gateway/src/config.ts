import { commonConfigSpec, envVar } from "@eas/service-kit";

/** Every environment variable the gateway reads. */
export const gatewayConfigSpec = {
  ...commonConfigSpec({ grpcPort: 0, httpPort: 9100 }),
  port: envVar.int("EAS_GATEWAY_PORT", 8080, "HTTP data plane port: /api/predict/{service}"),
  sampling: envVar.bool("EAS_GATEWAY_SAMPLING", true, "publish per-second traffic samples of each active service for the monitor"),
  maxBodyBytes: envVar.int("EAS_GATEWAY_MAX_BODY_BYTES", 10 * 1024 * 1024, "largest request body accepted (413 past it)"),
  mirrorMaxInFlight: envVar.int(
    "EAS_GATEWAY_MIRROR_MAX_IN_FLIGHT",
    64,
    "copies of one service's requests in flight to its mirror at once (more are shed)",
  ),
  mirrorMaxBodyBytes: envVar.int(
    "EAS_GATEWAY_MIRROR_MAX_BODY_BYTES",
    1024 * 1024,
    "largest request body copied to a mirror (larger ones are shed)",
  ),
};

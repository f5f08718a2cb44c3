import { commonConfigSpec } from "@eas/service-kit";

/** Every environment variable the autoscaler reads. */
export const autoscalerConfigSpec = {
  ...commonConfigSpec({ grpcPort: 50053, httpPort: 9103 }),
};

import { commonConfigSpec } from "@eas/service-kit";

/** Every environment variable the monitor reads. */
export const monitorConfigSpec = {
  ...commonConfigSpec({ grpcPort: 50055, httpPort: 9105 }),
};

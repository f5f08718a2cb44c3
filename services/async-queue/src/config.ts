import { commonConfigSpec } from "@eas/service-kit";

/** Every environment variable the async-queue reads. */
export const asyncQueueConfigSpec = {
  ...commonConfigSpec({ grpcPort: 50054, httpPort: 9104 }),
};

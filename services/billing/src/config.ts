import { commonConfigSpec } from "@eas/service-kit";

/** Every environment variable the billing reads. */
export const billingConfigSpec = {
  ...commonConfigSpec({ grpcPort: 50056, httpPort: 9106 }),
};

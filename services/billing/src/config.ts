import { commonConfigSpec, envVar } from "@eas/service-kit";

/** Every environment variable the billing reads. */
export const billingConfigSpec = {
  ...commonConfigSpec({ grpcPort: 50056, httpPort: 9106 }),
  budgetCheckMs: envVar.int(
    "EAS_BILLING_BUDGET_CHECK_MS",
    5_000,
    "how often each budgeted service's cost this month is compared with its budget (alerts at 80 % and 100 %)",
  ),
};

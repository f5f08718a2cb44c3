import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { InvalidArgumentError, type Command } from "commander";
import { formatMoney, InvalidMoneyError, parseMoney } from "@eas/contracts";
import { BillingClient, unaryCall, type Bill, type Budget, type Usage } from "@eas/proto";
import { CliError } from "../client.js";
import type { CliContext } from "../context.js";
import { table } from "../format.js";
import type { CommandGroup } from "./registry.js";

const DEFAULT_BILLING = process.env.EAS_BILLING_ENDPOINT ?? "127.0.0.1:50056";
const GROUPINGS = ["class", "hour", "day", "instance"] as const;

/** Argument parser: an amount in currency units ("120.50"), as micro-units; a sign is left for the server to judge. */
function amount(value: string): number {
  try {
    return parseMoney(value, "amount");
  } catch (error) {
    if (error instanceof InvalidMoneyError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

function grouping(value: string): string {
  if (!(GROUPINGS as readonly string[]).includes(value)) throw new InvalidArgumentError(`must be one of ${GROUPINGS.join(", ")}`);
  return value;
}

/** Runs `call` with a Billing client at `address`; an unreachable billing is named as such. */
async function withBilling<T>(address: string, call: (client: BillingClient) => Promise<T>): Promise<T> {
  const client = new BillingClient(address, credentials.createInsecure());
  try {
    return await call(client);
  } catch (error) {
    if ((error as Partial<ServiceError>).code === status.UNAVAILABLE) {
      throw new CliError(
        `cannot reach the billing at ${address} (is the local cluster running? \`pnpm cluster\`): ${(error as ServiceError).details}`,
      );
    }
    throw error;
  } finally {
    client.close();
  }
}

const hours = (value: number) => value.toFixed(3);
const usageCells = (usage: Usage | undefined) => [
  formatMoney(usage?.costMicros ?? 0),
  hours(usage?.instanceHours ?? 0),
  hours(usage?.cpuCoreHours ?? 0),
  hours(usage?.memoryGibHours ?? 0),
  hours(usage?.gpuHours ?? 0),
];
const percent = (part: number, whole: number) => (whole > 0 ? `${((part * 100) / whole).toFixed(1)} %` : "");

/** A bill as tables: its lines, then each service's total with its month to date and budget. */
export function billText(bill: Bill): string {
  const keyHead =
    { class: [], hour: ["Hour (UTC)"], day: ["Day (UTC)"], instance: ["Instance"] }[bill.by as (typeof GROUPINGS)[number]] ?? [];
  const lines = table(
    ["Service", "Class", ...keyHead, "Cost", "Instance-h", "CPU core-h", "Memory GiB-h", "GPU-h"],
    bill.lines.map((l) => [l.service, l.capacityClass, ...(keyHead.length ? [l.key] : []), ...usageCells(l.usage)]),
  );
  const services = table(
    ["Service", "Cost", `Month to date (${bill.month})`, "Budget", "Of budget"],
    bill.services.map((s) => [
      s.service,
      formatMoney(s.usage?.costMicros ?? 0),
      formatMoney(s.monthToDateMicros),
      s.budgetMicros ? formatMoney(s.budgetMicros) : "-",
      percent(s.monthToDateMicros, s.budgetMicros),
    ]),
  );
  const range = `${bill.from} to ${bill.to} (running instances billed up to ${bill.now})`;
  return `${range}\n${lines}\n${services}\nTotal: ${formatMoney(bill.total?.costMicros ?? 0)}`;
}

export function budgetsText(budgets: Budget[]): string {
  return table(
    ["Service", "Budget", "Month", "Month to date", "Of budget", "Alerts", "Webhook"],
    budgets.map((b) => [
      b.service,
      formatMoney(b.amountMicros),
      b.month,
      formatMoney(b.monthToDateMicros),
      percent(b.monthToDateMicros, b.amountMicros),
      b.reachedPercent.map((p) => `${p} %`).join(", ") || "-",
      b.webhookUrl || "-",
    ]),
  );
}

/** `bill` and `budget`: what services cost, from the billing service (docs/billing.md). */
export const billingCommands: CommandGroup = {
  name: "billing",
  register(program: Command, context: CliContext): void {
    program
      .command("bill [service]")
      .description("cost and resource-hours per service and class of capacity (default: this month so far)")
      .option("--from <time>", "start of the range, ISO 8601 (default: the start of this UTC month)")
      .option("--to <time>", "end of the range, ISO 8601 (default: now)")
      .option("--by <grouping>", `lines per ${GROUPINGS.join(", ")}`, grouping, "class")
      .option("--billing <host:port>", "billing gRPC address", DEFAULT_BILLING)
      .action(async (service: string | undefined, options: { from?: string; to?: string; by: string; billing: string }) => {
        const request = { service: service ?? "", from: options.from ?? "", to: options.to ?? "", by: options.by };
        const bill = await withBilling(options.billing, (client) => unaryCall(client, client.getBill, request));
        context.print(bill, () => billText(bill));
      });

    const budget = program.command("budget").description("monthly budgets per service, alerting at 80 % and 100 %");
    budget
      .command("set <service> <amount>")
      .description("set a service's monthly budget, in currency units (e.g. 120.50)")
      .option("--webhook <url>", "where the monitor POSTs the 80 % and 100 % alerts (omitted: none)")
      .option("--billing <host:port>", "billing gRPC address", DEFAULT_BILLING)
      .action(async (service: string, amountText: string, options: { webhook?: string; billing: string }) => {
        const request = { service, amountMicros: amount(amountText), webhookUrl: options.webhook ?? "" };
        const set = await withBilling(options.billing, (client) => unaryCall(client, client.setBudget, request));
        context.print(set, () => budgetsText([set]));
      });
    budget
      .command("list")
      .description("every budget with this month's cost and the alerts it raised")
      .option("--billing <host:port>", "billing gRPC address", DEFAULT_BILLING)
      .action(async (options: { billing: string }) => {
        const { budgets } = await withBilling(options.billing, (client) => unaryCall(client, client.listBudgets, {}));
        context.print(budgets, () => budgetsText(budgets));
      });
    budget
      .command("delete <service>")
      .description("delete a service's budget")
      .option("--billing <host:port>", "billing gRPC address", DEFAULT_BILLING)
      .action(async (service: string, options: { billing: string }) => {
        const deleted = await withBilling(options.billing, (client) => unaryCall(client, client.deleteBudget, { service }));
        context.print(deleted, () => `budget of ${deleted.service} deleted`);
      });
  },
};

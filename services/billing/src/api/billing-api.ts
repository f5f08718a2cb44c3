import type { UntypedServiceImplementation } from "@grpc/grpc-js";
import { ValidationError, type FieldViolation } from "@eas/decider";
import type { EventStore } from "@eas/event-store";
import { budgetStream } from "@eas/events";
import type { ProjectionRunner } from "@eas/projections";
import type { BillingServer } from "@eas/proto";
import { createKeyedMutex, executeCommand, unary } from "@eas/service-kit";
import type { Logger } from "@eas/telemetry";
import {
  BILL_GROUPINGS,
  BillGrouping,
  budgetDecider,
  computeBill,
  isKnownService,
  monthStart,
  monthToDateMicros,
  noBudget,
  setBudgetViolations,
  type BudgetCommand,
  type MeterState,
} from "../domain/index.js";
import type { Budgets } from "../projections/budgets.js";
import { toBillMessage, toBudgetMessage } from "./bill-view.js";

export interface BillingApiDeps {
  store: EventStore;
  metering: ProjectionRunner<MeterState>;
  budgets: ProjectionRunner<Budgets>;
  logger: Logger;
  now: () => Date;
  source: string;
  /** How long a call waits for the read models to reach the log's head. Default 5 s. */
  projectionWaitMs?: number;
}

function parseTime(field: string, value: string, fallback: number, violations: FieldViolation[]): number {
  if (value === "") return fallback;
  const ms = Date.parse(value);
  if (Number.isNaN(ms)) violations.push({ path: field, message: `must be an ISO 8601 time, got ${JSON.stringify(value)}` });
  return ms;
}

/** The Billing gRPC API: bills computed from the metering read model at "now", budgets as events. */
export function createBillingApi(deps: BillingApiDeps): BillingServer & UntypedServiceImplementation {
  const { store, metering, budgets, logger } = deps;
  const waitMs = deps.projectionWaitMs ?? 5_000;
  const perBudget = createKeyedMutex();

  /** A bill or budget reflects everything the log held when the call arrived (a service created just now is known). */
  const catchUp = async () => {
    const head = await store.headPosition();
    await Promise.all([metering.waitForPosition(head, waitMs), budgets.waitForPosition(head, waitMs)]);
  };

  const requireKnownService = (service: string) => {
    if (!service) throw new ValidationError([{ path: "service", message: "is required" }]);
    if (!isKnownService(metering.state, service)) {
      throw new ValidationError([{ path: "service", message: `unknown service ${JSON.stringify(service)}` }]);
    }
  };

  const budgetView = (service: string, nowMs: number) => {
    const budget = budgets.state[service] ?? noBudget(service);
    return toBudgetMessage(budget, nowMs, monthToDateMicros(metering.state, service, nowMs));
  };

  const runBudgetCommand = async (command: BudgetCommand) => {
    const stream = budgetStream(command.service);
    const result = await perBudget.run(stream, () =>
      executeCommand({ store, stream, decider: budgetDecider, command, source: deps.source }),
    );
    const seen = result.position ?? result.readPosition;
    if (seen !== undefined) await budgets.waitForPosition(seen, waitMs);
    return result;
  };

  return {
    getBill: unary(logger, async (request) => {
      const nowMs = deps.now().getTime();
      const violations: FieldViolation[] = [];
      const fromMs = parseTime("from", request.from, monthStart(nowMs), violations);
      const toMs = parseTime("to", request.to, nowMs, violations);
      if (violations.length === 0 && fromMs >= toMs) {
        violations.push({
          path: "from",
          message: `must be before to (from ${new Date(fromMs).toISOString()}, to ${new Date(toMs).toISOString()})`,
        });
      }
      const by = (request.by || BillGrouping.Class) as BillGrouping;
      if (!BILL_GROUPINGS.includes(by)) {
        violations.push({ path: "by", message: `must be one of ${BILL_GROUPINGS.join(", ")}, got ${JSON.stringify(request.by)}` });
      }
      if (violations.length > 0) throw new ValidationError(violations);
      await catchUp();
      if (request.service) requireKnownService(request.service);
      const meter = metering.state;
      const bill = computeBill(meter, { ...(request.service ? { service: request.service } : {}), fromMs, toMs, nowMs, by });
      return toBillMessage(bill, {
        fromMs,
        toMs,
        nowMs,
        by,
        monthToDate: (service) => monthToDateMicros(meter, service, nowMs),
        budgetOf: (service) => budgets.state[service]?.amountMicros ?? 0,
      });
    }),

    setBudget: unary(logger, async (request) => {
      const violations = setBudgetViolations(request);
      if (violations.length > 0) throw new ValidationError(violations);
      await catchUp();
      requireKnownService(request.service);
      const now = deps.now();
      const { service, amountMicros, webhookUrl } = request;
      await runBudgetCommand({ type: "SetBudget", service, amountMicros, webhookUrl, now: now.toISOString() });
      return budgetView(request.service, now.getTime());
    }),

    listBudgets: unary(logger, async () => {
      await catchUp();
      const nowMs = deps.now().getTime();
      return {
        budgets: Object.keys(budgets.state)
          .sort()
          .map((service) => budgetView(service, nowMs)),
      };
    }),

    deleteBudget: unary(logger, async (request) => {
      await catchUp();
      requireKnownService(request.service);
      const now = deps.now();
      const before = budgetView(request.service, now.getTime());
      await runBudgetCommand({ type: "DeleteBudget", service: request.service, now: now.toISOString() });
      return before;
    }),
  };
}

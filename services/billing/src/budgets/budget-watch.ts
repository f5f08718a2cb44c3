import type { EventStore } from "@eas/event-store";
import { budgetStream } from "@eas/events";
import type { ProjectionRunner } from "@eas/projections";
import { executeCommand } from "@eas/service-kit";
import type { Logger } from "@eas/telemetry";
import { budgetDecider, monthOf, monthToDateMicros, thresholdsDue, type BudgetEvent, type MeterState } from "../domain/index.js";
import type { Budgets } from "../projections/budgets.js";

export interface BudgetWatchDeps {
  store: EventStore;
  metering: ProjectionRunner<MeterState>;
  budgets: ProjectionRunner<Budgets>;
  logger: Logger;
  now: () => Date;
  source: string;
  intervalMs: number;
}

export interface BudgetWatch {
  /** One pass over every budget; resolves with the alerts it recorded. */
  check(): Promise<BudgetEvent[]>;
  stop(): Promise<void>;
}

/**
 * Every `intervalMs`, measures each budgeted service's cost this month (instances still running count up to
 * now) and records a BudgetThresholdReached for each threshold newly reached, through the budget decider:
 * the decider, not this loop, guarantees one alert per threshold, month and budget setting, also with two
 * billing processes. Nothing is checked before both read models have caught up with the log.
 */
export function startBudgetWatch(deps: BudgetWatchDeps): BudgetWatch {
  const { store, metering, budgets, logger } = deps;
  let inFlight: Promise<BudgetEvent[]> | undefined;
  let stopped = false;

  const runCheck = async (): Promise<BudgetEvent[]> => {
    if (!metering.isCaughtUp() || !budgets.isCaughtUp()) return [];
    const now = deps.now();
    const period = monthOf(now.getTime());
    const raised: BudgetEvent[] = [];
    for (const [service, budget] of Object.entries(budgets.state)) {
      const spent = monthToDateMicros(metering.state, service, now.getTime());
      const spentMicros = Number(spent > BigInt(Number.MAX_SAFE_INTEGER) ? BigInt(Number.MAX_SAFE_INTEGER) : spent);
      if (thresholdsDue(budget, period, spentMicros).length === 0) continue;
      const result = await executeCommand({
        store,
        stream: budgetStream(service),
        decider: budgetDecider,
        command: { type: "CheckBudget", service, period, spentMicros, now: now.toISOString() },
        source: deps.source,
      });
      if (result.position !== undefined) await budgets.waitForPosition(result.position);
      for (const e of result.events) {
        if (e.type !== "eas.v1.BudgetThresholdReached") continue;
        logger.warn(
          { service, period, thresholdPercent: e.data.thresholdPercent, spentMicros, amountMicros: e.data.amountMicros },
          "budget threshold reached",
        );
      }
      raised.push(...result.events);
    }
    return raised;
  };

  const check = (): Promise<BudgetEvent[]> => {
    inFlight ??= runCheck().finally(() => (inFlight = undefined));
    return inFlight;
  };

  const timer = setInterval(() => {
    if (stopped) return;
    check().catch((error: unknown) => logger.warn({ err: error }, "budget check failed; next pass retries"));
  }, deps.intervalMs);

  return {
    check,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await inFlight?.catch(() => undefined);
    },
  };
}

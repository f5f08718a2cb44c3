export { heartbeatSchema, heartbeatSubject, InvalidHeartbeatError, type HeartbeatMessage } from "./heartbeat.js";
export { isResourceId, RESOURCE_ID_PATTERN, RESOURCE_ID_RULE, resourceIdProblem } from "./identifiers.js";
export { formatMoney, InvalidMoneyError, MICROS_PER_UNIT, parseMoney } from "./money.js";
export {
  CAPACITY_CLASSES,
  CapacityClass,
  capacityClassOf,
  FREE_RATES,
  InvalidRatesError,
  parseRate,
  parseRatesFile,
  RATE_KEYS,
  rateViolations,
  type HourlyRates,
  type RatesTable,
} from "./rates.js";
export { webhookUrlProblem } from "./webhook-url.js";

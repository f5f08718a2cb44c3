export { heartbeatSchema, heartbeatSubject, InvalidHeartbeatError, type HeartbeatMessage } from "./heartbeat.js";
export { isResourceId, RESOURCE_ID_PATTERN, RESOURCE_ID_RULE, resourceIdProblem } from "./identifiers.js";
export { InvalidWakeError, wakeSchema, wakeSubject, type WakeMessage } from "./wake.js";
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
export {
  ASYNC_DEAD_LETTER_STREAM_PREFIX,
  ASYNC_QUEUE_STREAM_PREFIX,
  ASYNC_RESULTS_BUCKET_PREFIX,
  AsyncRequestHeader,
  AsyncResultState,
  CALLBACK_URL_HEADER,
  MAX_REQUEST_ID_LENGTH,
  REQUEST_ID_HEADER,
  REQUEST_ID_PATTERN,
  asyncQueueLayout,
  asyncResultView,
  decodeAsyncResult,
  encodeAsyncResult,
  isOutcome,
  isRequestId,
  type AsyncQueueLayout,
  type AsyncResultView,
} from "./async-queue.js";

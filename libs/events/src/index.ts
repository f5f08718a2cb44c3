export { EVENT_MESSAGES, EVENT_TYPE_PREFIX, event, isKnownEventType } from "./catalog.js";
export type { EasEvent, EventName, EventType, EventOf } from "./catalog.js";
export { encodeEventData, toNewEvent, decodeEvent } from "./codec.js";
export {
  StreamCategory,
  serviceStream,
  instanceStream,
  nodeStream,
  alertStream,
  autoscalerStream,
  cronScaleStream,
  budgetStream,
  budgetAlertStream,
  stressStream,
  batchStream,
  groupStream,
} from "./streams.js";
export { serviceTokenSha256, tokenSha256 } from "./service-token.js";

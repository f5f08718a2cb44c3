export { deployerConfigSpec } from "./config.js";
export { serviceDecider } from "./domain/service-decider.js";
export type { ServiceCommand, ServiceEvent, ServiceState } from "./domain/service-decider.js";

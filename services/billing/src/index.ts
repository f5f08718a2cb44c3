export { billingConfigSpec } from "./config.js";
// For benches and end-to-end checks that measure or replay the metering; services never import this package.
export { meteringProjection } from "./projections/metering.js";
export { computeBill, monthToDateMicros, type Bill, type BillQuery, type MeterState } from "./domain/index.js";

export { connectKurrentDbEventStore } from "./connect.js";
export type { KurrentDbEventStoreOptions } from "./connect.js";
export { KurrentDbEventStore } from "./kurrentdb-event-store.js";

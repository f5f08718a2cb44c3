export { InMemoryEventStore } from "./memory-event-store.js";
export type { InMemoryEventStoreOptions } from "./memory-event-store.js";

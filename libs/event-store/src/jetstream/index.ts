export { connectJetStreamEventStore, JetStreamEventStore } from "./jetstream-event-store.js";
export { withDefaults } from "./options.js";
export type { JetStreamEventStoreOptions, ResolvedJetStreamOptions } from "./options.js";
export { EventHeaders } from "./cloudevents.js";

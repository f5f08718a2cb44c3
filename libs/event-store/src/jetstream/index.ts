export { connectJetStreamEventStore, JetStreamEventStore, withDefaults } from "./jetstream-event-store.js";
export type { JetStreamEventStoreOptions, ResolvedJetStreamOptions } from "./jetstream-event-store.js";
export { EventHeaders } from "./cloudevents.js";

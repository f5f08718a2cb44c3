import type { EventStore } from "@eas/event-store";
import { decodeEvent } from "@eas/events";
import type { Logger } from "@eas/telemetry";
import type { InstanceSupervisor } from "./supervisor.js";

/**
 * Stops an instance someone else declared Failed (its node was marked Lost while this agent lived
 * on): it has been replaced elsewhere and must not keep running unrouted. Follows the instance events
 * appended from now on; `close()` stops following and waits for the loop to end.
 */
export async function stopInstancesFailedElsewhere(deps: {
  store: EventStore;
  supervisor: Pick<InstanceSupervisor, "get" | "stop">;
  logger: Logger;
}): Promise<{ close(): Promise<void> }> {
  const { store, supervisor, logger } = deps;
  const instanceEvents = store.subscribeToAll({ afterPosition: await store.headPosition(), category: "instance" });
  const watching = (async () => {
    for await (const recorded of instanceEvents) {
      const e = decodeEvent(recorded);
      if (e?.type !== "eas.v1.InstanceFailed" || !supervisor.get(e.data.instanceId)) continue;
      logger.warn({ instanceId: e.data.instanceId, reason: e.data.reason }, "instance failed elsewhere; stopping it here");
      supervisor.stop(e.data.instanceId, 5_000).catch((error: unknown) => logger.error({ err: error }, "could not stop the instance"));
    }
  })().catch((error: unknown) => logger.error({ err: error }, "stopped following instance events"));
  return {
    async close() {
      await instanceEvents.close();
      await watching;
    },
  };
}

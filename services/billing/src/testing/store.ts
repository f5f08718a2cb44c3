import { randomUUID } from "node:crypto";
import type { EventStore } from "@eas/event-store";
import { instanceStream, nodeStream, serviceStream, toNewEvent, type EasEvent } from "@eas/events";

/** The stream each event belongs to, as its real writer appends it. */
export function streamOf(e: EasEvent): string {
  if (e.type.startsWith("eas.v1.Instance")) return instanceStream((e.data as { instanceId: string }).instanceId);
  if (e.type.startsWith("eas.v1.Node")) return nodeStream((e.data as { nodeId: string }).nodeId);
  if (e.type.startsWith("eas.v1.Service")) return serviceStream((e.data as { name: string }).name);
  throw new Error(`no stream for ${e.type} in the billing's test logs`);
}

/** Appends `events` in order, each to its own stream, recorded at its own `at`. */
export async function appendLog(store: EventStore, events: readonly EasEvent[]): Promise<void> {
  for (const e of events) {
    const at = (e.data as { at?: string; createdAt?: string }).at ?? (e.data as { createdAt?: string }).createdAt;
    await store.append(streamOf(e), [toNewEvent(e, randomUUID(), { source: "eas/billing-test" }, at ? new Date(at) : undefined)], {
      expectedRevision: "any",
    });
  }
}

import type { RecordedEvent } from "@eas/event-store";
import { decodeEvent } from "@eas/events";
import type { LiveRouteTable } from "../proxy/index.js";
import { serviceOf, toRouteEntry, type RoutesState } from "./routes-projection.js";

/** The part of a route table the projection writes to. */
export type WritableRouteTable = Pick<LiveRouteTable, "set" | "delete">;

/** Makes the table's entry of `service` what the projection says: replaced when it knows the service, removed when not. */
export function syncRoute(table: WritableRouteTable, state: RoutesState, service: string): void {
  const routed = state[service];
  if (routed) table.set(toRouteEntry(service, routed));
  else table.delete(service);
}

/** Copies every service the projection holds into the table, e.g. state restored before the first event arrived. */
export function syncAllRoutes(table: WritableRouteTable, state: RoutesState): void {
  for (const service of Object.keys(state)) syncRoute(table, state, service);
}

/**
 * The routes projection's `onEvent`: after each applied event, re-syncs the one service it concerns,
 * so the proxy follows the log event by event without rebuilding the whole table.
 */
export function routeSyncOnEvent(table: WritableRouteTable): (recorded: RecordedEvent, state: RoutesState) => void {
  return (recorded, state) => {
    const e = decodeEvent(recorded);
    const service = e && serviceOf(e);
    if (service) syncRoute(table, state, service);
  };
}

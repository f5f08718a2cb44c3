import type { RecordedEvent } from "@eas/event-store";
import { decodeEvent } from "@eas/events";
import type { LiveRouteTable } from "../proxy/index.js";
import { serviceOf, toRouteEntry, type RoutesState } from "./routes-projection.js";

/** The part of a route table the projection writes to. */
export type WritableRouteTable = Pick<LiveRouteTable, "set" | "delete" | "setGroup" | "deleteGroup">;

/**
 * Makes the table's entries of `name` what the projection says: the service's and the group's of that name
 * (one of them, normally: the deployer refuses a group named like a service and the reverse), each replaced
 * when the projection knows it, removed when not.
 */
export function syncRoute(table: WritableRouteTable, state: RoutesState, name: string): void {
  const routed = state.services[name];
  if (routed) table.set(toRouteEntry(name, routed));
  else table.delete(name);
  const group = state.groups[name];
  if (group) table.setGroup(group);
  else table.deleteGroup(name);
}

/** Copies every service and group the projection holds into the table, e.g. state restored before the first event arrived. */
export function syncAllRoutes(table: WritableRouteTable, state: RoutesState): void {
  for (const name of Object.keys(state.services)) syncRoute(table, state, name);
  for (const name of Object.keys(state.groups)) syncRoute(table, state, name);
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

import { capacityClassOf, FREE_RATES, type CapacityClass, type HourlyRates } from "@eas/contracts";
import type { EasEvent } from "@eas/events";
import {
  absentInstance,
  evolveInstance,
  hasEnded,
  isInstanceEvent,
  type InstanceEvent,
  type InstanceLifecycle,
} from "@eas/instance-lifecycle";

/**
 * The time one instance held resources on a node, and what they cost per hour there. It opens at the
 * instance's InstanceScheduled (the scheduler reserves its resources on the node) and closes at its
 * InstanceStopped or InstanceFailed (the reservation is released). InstanceLost does not close it (the process
 * may serve on; the deployer stops it once replaced); a reclaimed spot node's instances are drained, or failed
 * at the reclaim's deadline (docs/billing.md, ADR 0025). One interval per instance id, ever.
 */
export interface BillableInterval {
  readonly instanceId: string;
  readonly service: string;
  readonly nodeId: string;
  readonly capacityClass: CapacityClass;
  readonly cpuMillis: number;
  readonly memoryMib: number;
  readonly gpu: number;
  /** The node's rates when the instance was scheduled: a later registration does not reprice it. */
  readonly rates: HourlyRates;
  /** Epoch ms of InstanceScheduled. */
  readonly startMs: number;
  /** Epoch ms it closed; null while the instance holds its resources (billed up to "now" at query time). */
  endMs: number | null;
}

/** The billing's fold of the log: nodes' rates, instances' intervals, the services ever created. */
export interface MeterState {
  /** The rates each node registered last. */
  readonly nodes: Record<string, HourlyRates>;
  /** The lifecycle of each instance whose interval is open, folded with the one instance state machine. */
  readonly open: Record<string, InstanceLifecycle>;
  /** Every interval, open or closed, by instance id. */
  readonly intervals: Record<string, BillableInterval>;
  /** Services the log named: created, or scheduled an instance (a deleted service keeps its bill). */
  readonly services: Record<string, true>;
}

export function emptyMeter(): MeterState {
  return { nodes: {}, open: {}, intervals: {}, services: {} };
}

/** The event's own time (its `at`), or the time the log recorded it when `at` is missing or malformed. */
function timeOf(at: string, recordedAtMs: number): number {
  const ms = Date.parse(at);
  return Number.isNaN(ms) ? recordedAtMs : ms;
}

/**
 * Folds one event into the meter, in place (the projection runner owns the state), and returns it.
 * A pure function of the events in log order, so replaying the log from zero gives the same intervals:
 * - events the instance state machine does not allow (a second InstanceScheduled, anything after Stopped or
 *   Failed, a redelivered event) change nothing, so no instance is ever billed twice;
 * - an instance never scheduled reserved nothing and is not billed.
 */
export function meterEvent(state: MeterState, event: EasEvent, recordedAtMs: number): MeterState {
  if (isInstanceEvent(event)) return meterInstanceEvent(state, event, recordedAtMs);
  switch (event.type) {
    case "eas.v1.NodeRegistered":
      state.nodes[event.data.nodeId] = { ...FREE_RATES, ...event.data.rates };
      return state;
    case "eas.v1.ServiceCreated":
      state.services[event.data.name] = true;
      return state;
    default:
      return state;
  }
}

function meterInstanceEvent(state: MeterState, event: InstanceEvent, recordedAtMs: number): MeterState {
  const { instanceId } = event.data;
  const before = state.open[instanceId] ?? (state.intervals[instanceId] ? undefined : absentInstance(instanceId));
  if (!before) return state;
  const after = evolveInstance(before, event);
  if (after === before) return state;
  const atMs = timeOf(event.data.at, recordedAtMs);
  if (event.type === "eas.v1.InstanceScheduled") {
    const { data } = event;
    state.intervals[instanceId] = {
      instanceId,
      service: data.service,
      nodeId: data.nodeId,
      capacityClass: capacityClassOf({ spot: data.spot, dedicated: data.pool === "dedicated" }),
      cpuMillis: data.resources?.cpuMillis ?? 0,
      memoryMib: data.resources?.memoryMib ?? 0,
      gpu: data.resources?.gpu ?? 0,
      rates: state.nodes[data.nodeId] ?? FREE_RATES,
      startMs: atMs,
      endMs: null,
    };
    state.services[data.service] = true;
  }
  const interval = state.intervals[instanceId];
  if (!interval) return state; // started without a placement (Absent -> Starting): nothing was reserved
  if (hasEnded(after.phase)) {
    // Clocks of different writers may disagree: an interval never ends before it starts.
    interval.endMs = Math.max(interval.startMs, atMs);
    delete state.open[instanceId];
  } else {
    state.open[instanceId] = after;
  }
  return state;
}

/**
 * Where an interval ends when billed at `nowMs`: its close, or now for an open one; never after now (a bill
 * counts no time to come, even stamped by a writer whose clock runs ahead).
 */
export function effectiveEnd(interval: BillableInterval, nowMs: number): number {
  return Math.max(interval.startMs, Math.min(interval.endMs ?? nowMs, nowMs));
}

/** Whether the log named this service (created, or billed for an instance). */
export function isKnownService(state: MeterState, service: string): boolean {
  return state.services[service] === true;
}

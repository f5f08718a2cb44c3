import type { CapacityClass, HourlyRates } from "@eas/contracts";
import type { RecordedEvent } from "@eas/event-store";
import { decodeEvent, StreamCategory } from "@eas/events";
import type { InstanceLifecycle } from "@eas/instance-lifecycle";
import type { Projection } from "@eas/projections";
import { emptyMeter, meterEvent, type BillableInterval, type MeterState } from "../domain/index.js";

/** An interval in a snapshot: a tuple, so that a snapshot of many intervals stays small. */
type IntervalTuple = [
  instanceId: string,
  service: string,
  nodeId: string,
  capacityClass: CapacityClass,
  cpuMillis: number,
  memoryMib: number,
  gpu: number,
  cpuCoreHourMicros: number,
  memoryGibHourMicros: number,
  gpuHourMicros: number,
  startMs: number,
  endMs: number | null,
];

interface MeterSnapshot {
  nodes: Record<string, HourlyRates>;
  open: Record<string, InstanceLifecycle>;
  intervals: IntervalTuple[];
  services: string[];
}

function toTuple(i: BillableInterval): IntervalTuple {
  const { rates } = i;
  return [
    i.instanceId,
    i.service,
    i.nodeId,
    i.capacityClass,
    i.cpuMillis,
    i.memoryMib,
    i.gpu,
    rates.cpuCoreHourMicros,
    rates.memoryGibHourMicros,
    rates.gpuHourMicros,
    i.startMs,
    i.endMs,
  ];
}

function fromTuple(t: IntervalTuple): BillableInterval {
  const [instanceId, service, nodeId, capacityClass, cpuMillis, memoryMib, gpu, cpu, memory, gpuRate, startMs, endMs] = t;
  const rates = { cpuCoreHourMicros: cpu, memoryGibHourMicros: memory, gpuHourMicros: gpuRate };
  return { instanceId, service, nodeId, capacityClass, cpuMillis, memoryMib, gpu, rates, startMs, endMs };
}

/**
 * The billing's read model: every instance's billable interval and the rates it is priced at, folded from
 * the instance, node and service streams ({@link meterEvent}); bills are computed from it at query time.
 */
export const meteringProjection: Projection<MeterState> = {
  name: "metering",
  // 2: the instance lifecycle kept in `open` gained Lost and the move mark; an older snapshot is replayed.
  version: 2,
  categories: [StreamCategory.instance, StreamCategory.node, StreamCategory.service],
  initialState: emptyMeter,
  evolve(state: MeterState, recorded: RecordedEvent): MeterState {
    const e = decodeEvent(recorded);
    return e ? meterEvent(state, e, recorded.time.getTime()) : state;
  },
  toSnapshot: (state): MeterSnapshot => ({
    nodes: state.nodes,
    open: state.open,
    intervals: Object.values(state.intervals).map(toTuple),
    services: Object.keys(state.services),
  }),
  fromSnapshot(snapshot): MeterState {
    const s = snapshot as MeterSnapshot;
    return {
      nodes: { ...s.nodes },
      open: { ...s.open },
      intervals: Object.fromEntries(s.intervals.map((t) => [t[0], fromTuple(t)])),
      services: Object.fromEntries(s.services.map((name) => [name, true as const])),
    };
  },
};

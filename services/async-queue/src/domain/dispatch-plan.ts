/**
 * Dispatch planning for one async service: how many requests its instances can take now (each at most its
 * concurrency, EAS's window), which instance gets the next one, and how many to pull from each of the queue's
 * consumers. Pure (ADR 0030).
 */

export interface SlotView {
  readonly id: string;
  /** Requests the instance may run at once (the spec's `rpc.worker_threads`). */
  readonly concurrency: number;
  readonly inFlight: number;
  /** Its last attempt could not reach it (refused, reset): it gets requests only when no other instance can. */
  readonly ejected: boolean;
}

/** Requests the instances can take now. */
export function freeSlots(instances: Iterable<SlotView>): number {
  let free = 0;
  for (const instance of instances) free += Math.max(0, instance.concurrency - instance.inFlight);
  return free;
}

/**
 * The instance that takes the next request: the fewest requests in flight among those with a free slot, ejected
 * ones last; ties go in turn, starting at `rotation`. Undefined when every instance is full (or there is none).
 */
export function pickInstance<T extends SlotView>(instances: readonly T[], rotation: number): T | undefined {
  const n = instances.length;
  let best: T | undefined;
  for (let k = 0; k < n; k++) {
    const candidate = instances[(rotation + k) % n] as T;
    if (candidate.inFlight >= candidate.concurrency) continue;
    if (best === undefined || better(candidate, best)) best = candidate;
  }
  return best;
}

function better(candidate: SlotView, best: SlotView): boolean {
  if (candidate.ejected !== best.ejected) return !candidate.ejected;
  return candidate.inFlight < best.inFlight;
}

/** Pulls from one consumer are this large at most. */
export const MAX_PULL = 256;

/**
 * How many requests to pull from the priority and normal consumers now: what the free slots can take beyond
 * the requests already pulled and waiting, for each consumer that has no pull outstanding. Both may be asked for
 * the same number: JetStream hands out what each has, and what arrives beyond the free slots waits (kept alive)
 * for the next free one, priority requests first. While the service has instances, a pull for one priority
 * request stays out even when every slot is taken, so that the next slot to free up goes to a priority request
 * that arrived meanwhile rather than to a normal one pulled before it.
 */
export function pullSizes(
  slots: number,
  free: number,
  waiting: number,
  outstanding: { readonly priority: boolean; readonly normal: boolean },
): { priority: number; normal: number } {
  if (slots === 0) return { priority: 0, normal: 0 };
  const want = Math.min(MAX_PULL, free - waiting);
  return { priority: outstanding.priority ? 0 : Math.max(1, want), normal: outstanding.normal || want <= 0 ? 0 : want };
}

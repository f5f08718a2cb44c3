import type { InstanceLifecycle } from "./lifecycle.js";
import { InstancePhase } from "./phase.js";

/** What scale-in looks at in an instance. */
export type ScaleInCandidate = Pick<InstanceLifecycle, "instanceId" | "phase" | "pool" | "spot" | "scheduledAt">;

/**
 * The order instances of one service are given up in on scale-in (and old ones in a rolling update), first
 * to go first. Each key only breaks ties of those before it:
 *
 * 1. public pool before a dedicated group: EAS's elastic pool gives back the overflow first, billed per use,
 *    while the group is paid anyway;
 * 2. spot before on-demand: what remains should be the stable core, not what the provider may reclaim;
 * 3. not Ready before Ready: it serves nothing yet;
 * 4. newest first (scheduled last): the oldest have proven themselves and hold warm caches;
 * 5. instance id, so that the choice is deterministic.
 */
export function scaleInOrder<T extends ScaleInCandidate>(instances: readonly T[]): T[] {
  const keys = (i: ScaleInCandidate) => [i.pool === "public" ? 0 : 1, i.spot ? 0 : 1, i.phase === InstancePhase.Ready ? 1 : 0];
  return [...instances].sort((a, b) => {
    const [ka, kb] = [keys(a), keys(b)];
    for (let k = 0; k < ka.length; k++) {
      const difference = ka[k]! - kb[k]!;
      if (difference !== 0) return difference;
    }
    return b.scheduledAt.localeCompare(a.scheduledAt) || a.instanceId.localeCompare(b.instanceId);
  });
}

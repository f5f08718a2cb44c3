import { NodeStatus, Pool, type ClusterState } from "../nodes/index.js";

/** An instance of the service being scaled in, as the caller knows it. */
export interface ScaleInCandidate {
  readonly instanceId: string;
  /** Passing its readiness probe (serving traffic). */
  readonly ready: boolean;
  /** Epoch ms the instance was created. */
  readonly createdAt: number;
}

/**
 * Picks which `count` instances of a service to remove on scale-in, first to
 * remove first. The order, each key only breaking ties of those before it:
 *
 * 1. not placed on any node (pending) before placed: removing it frees nothing and loses nothing;
 * 2. on a node that is not Ready (Cordoned: being drained; Lost) before a Ready node;
 * 3. public pool before dedicated group: EAS scale-in gives back elastic
 *    public capacity first, which is billed per use while the group is paid anyway;
 * 4. spot before on-demand: what remains after scale-in should be the stable
 *    core, not instances the provider may reclaim at any moment;
 * 5. not ready before ready: it serves nothing yet;
 * 6. newest first: the oldest have proven themselves and hold warm caches;
 * 7. instance id, so that the choice is deterministic.
 */
export function chooseScaleInVictims(instances: readonly ScaleInCandidate[], count: number, cluster: ClusterState): string[] {
  const take = Math.max(0, Math.floor(count));
  if (take === 0) return [];
  const keyed = instances.map((instance) => {
    const node = cluster.nodes.get(cluster.placements.get(instance.instanceId) ?? "");
    const allocation = node?.allocations.get(instance.instanceId);
    return {
      instance,
      keys: [
        allocation === undefined ? 0 : 1,
        node?.status === NodeStatus.Ready ? 1 : 0,
        allocation?.pool === Pool.Public ? 0 : 1,
        allocation?.spot === true ? 0 : 1,
        instance.ready ? 1 : 0,
        -instance.createdAt,
      ],
    };
  });
  keyed.sort((a, b) => {
    for (let i = 0; i < a.keys.length; i += 1) {
      const difference = (a.keys[i] ?? 0) - (b.keys[i] ?? 0);
      if (difference !== 0) return difference;
    }
    return a.instance.instanceId < b.instance.instanceId ? -1 : a.instance.instanceId > b.instance.instanceId ? 1 : 0;
  });
  return keyed.slice(0, take).map(({ instance }) => instance.instanceId);
}

/** What the balancer needs to know about an instance. */
export interface BalancedInstance {
  /** Requests sent to the instance and not yet finished. */
  readonly outstanding: number;
  /** Time (same clock as `now`) until which the instance is skipped after a failed connection; 0 when healthy. */
  readonly ejectedUntil: number;
}

/**
 * Picks the instance with the fewest outstanding requests among those below
 * `maxConcurrency` (0 or less: unlimited), or undefined when every candidate
 * is at its limit.
 *
 * Why least-outstanding by full scan rather than power of two choices: one
 * gateway process sees the exact in-flight count of every instance it sends
 * to, and a service has a handful of instances, so an O(n) scan is cheaper
 * than two random draws' worth of bookkeeping and always finds the true
 * minimum. P2C pays off when load information is stale or shared between many
 * balancers, which is not the case inside one process. Ties are broken by
 * starting the scan at `start` (the caller rotates it), so equal instances get
 * requests in turn instead of the first one getting them all.
 *
 * Instances ejected after a failed connection are skipped while any instance
 * is not ejected; when every one is ejected they are tried anyway, since
 * refusing all traffic would be worse than probing.
 */
export function pickLeastOutstanding<I extends BalancedInstance>(
  instances: readonly I[],
  maxConcurrency: number,
  now: number,
  start: number,
  exclude?: I,
): I | undefined {
  const n = instances.length;
  if (n === 0) return undefined;
  const limit = maxConcurrency > 0 ? maxConcurrency : Number.POSITIVE_INFINITY;
  let best: I | undefined;
  let bestEjected: I | undefined;
  let anyHealthy = false;
  const offset = n === 1 ? 0 : start % n;
  for (let k = 0; k < n; k++) {
    const candidate = instances[(offset + k) % n] as I;
    if (candidate === exclude) continue;
    const ejected = candidate.ejectedUntil > now;
    if (!ejected) anyHealthy = true;
    if (candidate.outstanding >= limit) continue;
    if (ejected) {
      if (!bestEjected || candidate.outstanding < bestEjected.outstanding) bestEjected = candidate;
    } else if (!best || candidate.outstanding < best.outstanding) {
      best = candidate;
    }
  }
  return best ?? (anyHealthy ? undefined : bestEjected);
}

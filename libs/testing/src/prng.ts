/**
 * mulberry32: a tiny, well-distributed 32-bit seeded PRNG. Deterministic across platforms
 * (integer arithmetic only), which is what a reproducible train/test split and reproducible
 * failure injection in tests need. Processors have their own copy in `@eas/processor-kit`:
 * production code does not depend on test helpers.
 */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

import { SeriesPoint } from "@eas/proto";

/** A point kept encoded: a few hundred bytes instead of a tree of objects, for 1,000 services x minutes of seconds. */
interface Kept {
  startMs: number;
  bytes: Uint8Array;
}

/**
 * The last minutes of 1-second points in memory, per service: minute rollups and most queries (the
 * autoscaler's windows, `eas monitor`) read them without a trip to JetStream. Older ranges, and
 * everything after a restart until the window has filled again, are read from the store.
 */
export class RecentPoints {
  readonly #byService = new Map<string, Kept[]>();
  #coveredFromMs: number;

  /** @param coveredFromMs from when the memory holds every point (the monitor's start, or what it reloaded). */
  constructor(
    readonly windowMs: number,
    coveredFromMs: number,
  ) {
    this.#coveredFromMs = coveredFromMs;
  }

  /** Whether memory holds every point from `fromMs` on. */
  covers(fromMs: number): boolean {
    return fromMs >= this.#coveredFromMs;
  }

  /** Marks memory complete from `fromMs` on (after reloading that range from the store). */
  coverFrom(fromMs: number): void {
    this.#coveredFromMs = Math.min(this.#coveredFromMs, fromMs);
  }

  add(points: readonly SeriesPoint[]): void {
    for (const point of points) {
      const kept = { startMs: point.startMs, bytes: SeriesPoint.encode(point).finish() };
      const list = this.#byService.get(point.service);
      if (!list) {
        this.#byService.set(point.service, [kept]);
        continue;
      }
      // Points arrive in order; a reloaded or repeated one replaces the point of its second.
      let at = list.length;
      while (at > 0 && list[at - 1]!.startMs > point.startMs) at--;
      if (at > 0 && list[at - 1]!.startMs === point.startMs) list[at - 1] = kept;
      else list.splice(at, 0, kept);
    }
  }

  /** Drops points older than the window before `nowMs`; services left without points are forgotten. */
  prune(nowMs: number): void {
    const oldest = nowMs - this.windowMs;
    this.#coveredFromMs = Math.max(this.#coveredFromMs, oldest);
    for (const [service, list] of this.#byService) {
      let drop = 0;
      while (drop < list.length && list[drop]!.startMs < oldest) drop++;
      if (drop === list.length) this.#byService.delete(service);
      else if (drop > 0) list.splice(0, drop);
    }
  }

  range(service: string, fromMs: number, toMs: number): SeriesPoint[] {
    const list = this.#byService.get(service) ?? [];
    return list.filter((kept) => kept.startMs >= fromMs && kept.startMs < toMs).map((kept) => SeriesPoint.decode(kept.bytes));
  }

  services(): string[] {
    return [...this.#byService.keys()];
  }

  /** Memory held by the points' encodings, for /debug and the benchmark. */
  get bytes(): number {
    let total = 0;
    for (const list of this.#byService.values()) for (const kept of list) total += kept.bytes.byteLength;
    return total;
  }
}

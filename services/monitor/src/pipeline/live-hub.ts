import type { LatestPoint, SeriesPoint } from "@eas/proto";
import { toLatestPoint } from "../domain/latest.js";

export type LatestSink = (point: LatestPoint) => void;

interface Watcher {
  service: string | undefined;
  send: LatestSink;
}

/**
 * Fans each closed second out to the WatchLatest streams. A watcher of one service gets a point every
 * second (zero traffic when it did not report); a watcher of all services gets those that reported.
 */
export class LiveHub {
  readonly #watchers = new Set<Watcher>();
  readonly #latest = new Map<string, LatestPoint>();
  #lastSecondMs = 0;

  constructor(private readonly instancesReady: (service: string) => number) {}

  /** Starts a watch: the last closed second first (when known), then each new one. Returns the way to stop it. */
  watch(service: string | undefined, send: LatestSink): () => void {
    const watcher = { service, send };
    this.#watchers.add(watcher);
    if (service) {
      const last = this.#latest.get(service);
      if (last) send(last);
    } else {
      for (const point of this.#latest.values()) if (point.timeMs === this.#lastSecondMs) send(point);
    }
    return () => this.#watchers.delete(watcher);
  }

  get watcherCount(): number {
    return this.#watchers.size;
  }

  readonly onSecond = (secondMs: number, points: readonly SeriesPoint[]): void => {
    this.#lastSecondMs = secondMs;
    const reported = new Map(points.map((point) => [point.service, point]));
    const converted = new Map<string, LatestPoint>();
    const latestOf = (service: string) => {
      let point = converted.get(service);
      if (!point) {
        point = toLatestPoint(service, secondMs, reported.get(service), this.instancesReady(service));
        converted.set(service, point);
      }
      return point;
    };
    for (const service of reported.keys()) this.#latest.set(service, latestOf(service));
    for (const [service, point] of this.#latest) if (point.timeMs < secondMs - 60_000) this.#latest.delete(service);
    for (const watcher of this.#watchers) {
      if (watcher.service) {
        const point = latestOf(watcher.service);
        this.#latest.set(watcher.service, point);
        watcher.send(point);
      } else {
        for (const service of reported.keys()) watcher.send(latestOf(service));
      }
    }
  };
}

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
 * Points are turned into metric values only for the services someone watches.
 */
export class LiveHub {
  readonly #watchers = new Set<Watcher>();
  /** The last second each service reported in, as merged (converted on demand). */
  readonly #last = new Map<string, SeriesPoint>();
  #lastSecondMs = 0;

  constructor(private readonly instancesReady: (service: string) => number) {}

  /** Starts a watch: the last closed second first (when known), then each new one. Returns the way to stop it. */
  watch(service: string | undefined, send: LatestSink): () => void {
    const watcher = { service, send };
    this.#watchers.add(watcher);
    if (service) {
      const last = this.#last.get(service);
      if (last) send(this.#convert(service, last.startMs, last));
    } else {
      for (const [name, point] of this.#last) if (point.startMs === this.#lastSecondMs) send(this.#convert(name, point.startMs, point));
    }
    return () => this.#watchers.delete(watcher);
  }

  get watcherCount(): number {
    return this.#watchers.size;
  }

  readonly onSecond = (secondMs: number, points: readonly SeriesPoint[]): void => {
    this.#lastSecondMs = secondMs;
    for (const point of points) this.#last.set(point.service, point);
    for (const [service, point] of this.#last) if (point.startMs < secondMs - 60_000) this.#last.delete(service);
    if (this.#watchers.size === 0) return;
    const reported = new Map(points.map((point) => [point.service, point]));
    const converted = new Map<string, LatestPoint>();
    const latestOf = (service: string) => {
      let point = converted.get(service);
      if (!point) converted.set(service, (point = this.#convert(service, secondMs, reported.get(service))));
      return point;
    };
    for (const watcher of this.#watchers) {
      if (watcher.service) watcher.send(latestOf(watcher.service));
      else for (const service of reported.keys()) watcher.send(latestOf(service));
    }
  };

  #convert(service: string, secondMs: number, point: SeriesPoint | undefined): LatestPoint {
    return toLatestPoint(service, secondMs, point, this.instancesReady(service));
  }
}

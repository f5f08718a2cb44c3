import type { SeriesPoint } from "@eas/proto";
import { dedupeByStart, type QueryPlan } from "../domain/query.js";
import type { RecentPoints } from "./recent-points.js";
import type { SeriesStore } from "./series-store.js";

/** Reads the points a query needs: from memory when it holds the whole range, else from JetStream. */
export function createSeriesReader(recent: RecentPoints, store: SeriesStore) {
  return {
    async read(plan: QueryPlan): Promise<SeriesPoint[]> {
      if (plan.tier === "1s" && recent.covers(plan.fromMs)) return recent.range(plan.service, plan.fromMs, plan.toMs);
      return dedupeByStart(await store.read(plan.tier, plan.service, plan.fromMs, plan.toMs));
    },
  };
}
export type SeriesReader = ReturnType<typeof createSeriesReader>;

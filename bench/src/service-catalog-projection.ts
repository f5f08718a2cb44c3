import type { RecordedEvent } from "@eas/event-store";
import { decodeEvent, StreamCategory } from "@eas/events";
import type { Projection } from "@eas/projections";

export interface CatalogEntry {
  name: string;
  currentVersion: number;
  latestVersion: number;
  desiredReplicas: number;
  stopped: boolean;
  updatedAt: string;
}

export type ServiceCatalog = Record<string, CatalogEntry>;

/**
 * The services that exist, their current version and desired replicas: the projection the rebuild
 * benchmark runs, shaped like the read models services keep (every service process ran it once; none
 * read it, so it lives here now).
 *
 * `evolve` replaces the changed entry in place instead of copying the whole catalog for every event:
 * copying made a rebuild grow with events x services (bench/src/projection-rebuild.ts). The runner owns
 * the state object; entries themselves are never mutated, so a reader's reference to one stays valid.
 */
export const serviceCatalogProjection: Projection<ServiceCatalog> = {
  name: "service-catalog",
  version: 1,
  categories: [StreamCategory.service],
  initialState: () => ({}),
  evolve(catalog: ServiceCatalog, recorded: RecordedEvent): ServiceCatalog {
    const e = decodeEvent(recorded);
    if (!e) return catalog;
    switch (e.type) {
      case "eas.v1.ServiceCreated":
        catalog[e.data.name] = {
          name: e.data.name,
          currentVersion: e.data.version,
          latestVersion: e.data.version,
          desiredReplicas: e.data.spec?.instance ?? 0,
          stopped: false,
          updatedAt: e.data.createdAt,
        };
        return catalog;
      case "eas.v1.ServiceDeleted":
        delete catalog[e.data.name];
        return catalog;
    }
    const entry = "name" in e.data ? catalog[e.data.name] : undefined;
    if (!entry) return catalog;
    const replace = (next: CatalogEntry) => {
      catalog[entry.name] = next;
      return catalog;
    };
    switch (e.type) {
      case "eas.v1.ServiceUpdated":
        return replace({
          ...entry,
          currentVersion: e.data.version,
          latestVersion: e.data.version,
          desiredReplicas: e.data.spec?.instance ?? entry.desiredReplicas,
          updatedAt: e.data.updatedAt,
        });
      case "eas.v1.ServiceScaled":
        return replace({ ...entry, desiredReplicas: e.data.toReplicas, updatedAt: e.data.scaledAt });
      case "eas.v1.ServiceStopped":
        return replace({ ...entry, stopped: true, updatedAt: e.data.stoppedAt });
      case "eas.v1.ServiceStarted":
        return replace({ ...entry, stopped: false, updatedAt: e.data.startedAt });
      case "eas.v1.ServiceRolledBack":
        return replace({ ...entry, currentVersion: e.data.toVersion, updatedAt: e.data.rolledBackAt });
      default:
        return catalog;
    }
  },
};

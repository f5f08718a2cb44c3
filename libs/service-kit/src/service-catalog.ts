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
 * The services that exist, their current version and desired replicas.
 * Every service process keeps this projection; it is the smallest view each needs of the Service aggregate.
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
        return {
          ...catalog,
          [e.data.name]: {
            name: e.data.name,
            currentVersion: e.data.version,
            latestVersion: e.data.version,
            desiredReplicas: e.data.spec?.instance ?? 0,
            stopped: false,
            updatedAt: e.data.createdAt,
          },
        };
      case "eas.v1.ServiceDeleted": {
        const { [e.data.name]: _deleted, ...rest } = catalog;
        return rest;
      }
    }
    const entry = "name" in e.data ? catalog[e.data.name] : undefined;
    if (!entry) return catalog;
    switch (e.type) {
      case "eas.v1.ServiceUpdated":
        return {
          ...catalog,
          [entry.name]: {
            ...entry,
            currentVersion: e.data.version,
            latestVersion: e.data.version,
            desiredReplicas: e.data.spec?.instance ?? entry.desiredReplicas,
            updatedAt: e.data.updatedAt,
          },
        };
      case "eas.v1.ServiceScaled":
        return { ...catalog, [entry.name]: { ...entry, desiredReplicas: e.data.toReplicas, updatedAt: e.data.scaledAt } };
      case "eas.v1.ServiceStopped":
        return { ...catalog, [entry.name]: { ...entry, stopped: true, updatedAt: e.data.stoppedAt } };
      case "eas.v1.ServiceStarted":
        return { ...catalog, [entry.name]: { ...entry, stopped: false, updatedAt: e.data.startedAt } };
      case "eas.v1.ServiceRolledBack":
        return { ...catalog, [entry.name]: { ...entry, currentVersion: e.data.toVersion, updatedAt: e.data.rolledBackAt } };
      default:
        return catalog;
    }
  },
};

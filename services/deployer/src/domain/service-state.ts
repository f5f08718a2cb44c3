import { NotFoundError, ValidationError } from "@eas/decider";
import type { ServiceSpec } from "@eas/proto";
import type { TrafficState } from "./traffic.js";

export interface ServiceVersion {
  version: number;
  spec: ServiceSpec;
  createdAt: string;
}

/** The Service aggregate's state, folded from its stream by `serviceDecider.evolve`. */
export type ServiceState =
  | { exists: false; deleted: boolean }
  | {
      exists: true;
      name: string;
      /** SHA-256 (hex) of the service's token. */
      tokenSha256: string;
      versions: ServiceVersion[];
      currentVersion: number;
      latestVersion: number;
      desiredReplicas: number;
      stopped: boolean;
      createdAt: string;
      updatedAt: string;
      /** The canary, its release plan, withdrawn versions, the mirror. */
      traffic: TrafficState;
    };

export type LiveService = Extract<ServiceState, { exists: true }>;

export function requireExisting(state: ServiceState, name: string): LiveService {
  if (!state.exists) throw new NotFoundError("service", name);
  return state;
}

/** The spec a service runs now. */
export function currentSpec(state: LiveService): ServiceSpec {
  return state.versions.find((v) => v.version === state.currentVersion)!.spec;
}

/** A version the service has, or INVALID_ARGUMENT on `field` naming the versions it has. */
export function requireVersion(state: LiveService, version: number, field = "version"): ServiceVersion {
  const found = state.versions.find((v) => v.version === version);
  if (!found) {
    const versions = state.versions.map((v) => v.version).join(", ");
    throw new ValidationError([{ path: field, message: `service ${state.name} has no version ${version} (versions: ${versions})` }]);
  }
  return found;
}

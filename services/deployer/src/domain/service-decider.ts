import { AlreadyExistsError, NotFoundError, PreconditionFailedError, ValidationError, type Decider } from "@eas/decider";
import { event, serviceTokenSha256, type EventOf } from "@eas/events";
import type { ServiceSpec } from "@eas/proto";

/** Who asked for a scale (ADR 0014). */
export type ScaleCause = "user" | "autoscaler" | "cron";

/**
 * Commands on the Service aggregate. Time and the digest of the generated token arrive with the command
 * (the token itself never reaches the log: ADR 0027).
 */
export type ServiceCommand =
  | { type: "CreateService"; spec: ServiceSpec; tokenSha256: string; now: string }
  | { type: "UpdateService"; spec: ServiceSpec; updateType: "merge" | "replace"; now: string }
  | { type: "ScaleService"; name: string; replicas: number; cause: ScaleCause; reason?: string; now: string }
  | { type: "StopService"; name: string; now: string }
  | { type: "StartService"; name: string; now: string }
  | { type: "DeleteService"; name: string; now: string }
  | { type: "RollbackService"; name: string; version: number; now: string }
  /** The reconciler could not place an instance: the reason shows as the service's Waiting reason. */
  | { type: "RecordPlacementBlocked"; name: string; reason: string; now: string };

export type ServiceEvent =
  | EventOf<"eas.v1.ServiceCreated">
  | EventOf<"eas.v1.ServiceUpdated">
  | EventOf<"eas.v1.ServiceScaled">
  | EventOf<"eas.v1.ServiceStopped">
  | EventOf<"eas.v1.ServiceStarted">
  | EventOf<"eas.v1.ServiceDeleted">
  | EventOf<"eas.v1.ServiceRolledBack">
  | EventOf<"eas.v1.ServicePlacementBlocked">;

export interface ServiceVersion {
  version: number;
  spec: ServiceSpec;
  createdAt: string;
}

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
    };

type LiveService = Extract<ServiceState, { exists: true }>;

function requireExisting(state: ServiceState, name: string): LiveService {
  if (!state.exists) throw new NotFoundError("service", name);
  return state;
}

function decide(command: ServiceCommand, state: ServiceState): ServiceEvent[] {
  switch (command.type) {
    case "CreateService": {
      if (state.exists) throw new AlreadyExistsError("service", command.spec.name);
      return [
        event("ServiceCreated", {
          name: command.spec.name,
          spec: command.spec,
          version: 1,
          token: "",
          createdAt: command.now,
          tokenSha256: command.tokenSha256,
        }),
      ];
    }
    case "UpdateService": {
      const service = requireExisting(state, command.spec.name);
      if (command.spec.name !== service.name) {
        throw new ValidationError([{ path: "name", message: `cannot rename service ${service.name}` }]);
      }
      return [
        event("ServiceUpdated", {
          name: service.name,
          spec: command.spec,
          version: service.latestVersion + 1,
          updateType: command.updateType,
          updatedAt: command.now,
        }),
      ];
    }
    case "ScaleService": {
      const service = requireExisting(state, command.name);
      if (command.replicas === service.desiredReplicas) return [];
      return [
        event("ServiceScaled", {
          name: service.name,
          fromReplicas: service.desiredReplicas,
          toReplicas: command.replicas,
          cause: command.cause,
          scaledAt: command.now,
          reason: command.reason ?? "",
        }),
      ];
    }
    case "StopService": {
      const service = requireExisting(state, command.name);
      return service.stopped ? [] : [event("ServiceStopped", { name: service.name, stoppedAt: command.now })];
    }
    case "StartService": {
      const service = requireExisting(state, command.name);
      return service.stopped ? [event("ServiceStarted", { name: service.name, startedAt: command.now })] : [];
    }
    case "DeleteService": {
      const service = requireExisting(state, command.name);
      return [event("ServiceDeleted", { name: service.name, deletedAt: command.now })];
    }
    case "RollbackService": {
      const service = requireExisting(state, command.name);
      if (!service.versions.some((v) => v.version === command.version)) {
        const versions = service.versions.map((v) => v.version).join(", ");
        throw new NotFoundError(
          "version",
          String(command.version),
          `service ${service.name} has no version ${command.version}; versions: ${versions}`,
        );
      }
      if (command.version === service.currentVersion) {
        throw new PreconditionFailedError(`service ${service.name} already runs version ${command.version}`);
      }
      return [
        event("ServiceRolledBack", {
          name: service.name,
          fromVersion: service.currentVersion,
          toVersion: command.version,
          rolledBackAt: command.now,
        }),
      ];
    }
    case "RecordPlacementBlocked": {
      // Whether the reason changed is the reconciler's to judge (a placement, on an instance stream, clears it).
      const service = requireExisting(state, command.name);
      return [event("ServicePlacementBlocked", { name: service.name, reason: command.reason, at: command.now })];
    }
  }
}

function evolve(state: ServiceState, e: ServiceEvent): ServiceState {
  switch (e.type) {
    case "eas.v1.ServiceCreated": {
      const spec = e.data.spec!;
      return {
        exists: true,
        name: e.data.name,
        tokenSha256: serviceTokenSha256(e.data),
        versions: [{ version: e.data.version, spec, createdAt: e.data.createdAt }],
        currentVersion: e.data.version,
        latestVersion: e.data.version,
        desiredReplicas: spec.instance,
        stopped: false,
        createdAt: e.data.createdAt,
        updatedAt: e.data.createdAt,
      };
    }
    case "eas.v1.ServiceDeleted":
      return { exists: false, deleted: true };
  }
  if (!state.exists) return state;
  switch (e.type) {
    case "eas.v1.ServiceUpdated": {
      const spec = e.data.spec!;
      return {
        ...state,
        versions: [...state.versions, { version: e.data.version, spec, createdAt: e.data.updatedAt }],
        currentVersion: e.data.version,
        latestVersion: e.data.version,
        desiredReplicas: spec.instance,
        updatedAt: e.data.updatedAt,
      };
    }
    case "eas.v1.ServiceScaled":
      return { ...state, desiredReplicas: e.data.toReplicas, updatedAt: e.data.scaledAt };
    case "eas.v1.ServiceStopped":
      return { ...state, stopped: true, updatedAt: e.data.stoppedAt };
    case "eas.v1.ServiceStarted":
      return { ...state, stopped: false, updatedAt: e.data.startedAt };
    case "eas.v1.ServiceRolledBack":
      return { ...state, currentVersion: e.data.toVersion, updatedAt: e.data.rolledBackAt };
    default:
      return state;
  }
}

/** The Service aggregate: spec versions, desired replicas, running or stopped. Stream "service-<name>". */
export const serviceDecider: Decider<ServiceCommand, ServiceEvent, ServiceState> = {
  decide,
  evolve,
  initialState: () => ({ exists: false, deleted: false }),
};

/** The spec a service runs now. */
export function currentSpec(state: LiveService): ServiceSpec {
  return state.versions.find((v) => v.version === state.currentVersion)!.spec;
}

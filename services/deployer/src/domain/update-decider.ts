import { NotFoundError, ValidationError, type Decider, type FieldViolation } from "@eas/decider";
import { applyServiceUpdate, parseDocumentText } from "@eas/service-spec";
import { currentSpec, serviceDecider, type ServiceEvent, type ServiceState } from "./service-decider.js";

/** Whether a patch names `metadata.instance` (an update that sets the replica count itself). */
function patchSetsInstance(text: string): boolean {
  const parsed = parseDocumentText(text);
  if (!parsed.ok) return false;
  const metadata = (parsed.value as { metadata?: { instance?: unknown } } | null)?.metadata;
  return metadata?.instance !== undefined;
}

/** Spec issues as the field violations a ValidationError carries. */
export function toViolations(issues: { path: string; message: string }[]): FieldViolation[] {
  return issues.map((issue) => ({ path: issue.path, message: issue.message }));
}

/** UpdateService as the client sent it: the patch is applied when the decision is made. */
export interface UpdateRequest {
  name: string;
  /** The patch or whole document as the client sent it. */
  patch: string;
  updateType: string;
  now: string;
}

/** An update's decision: the events, and the warnings about the new version's spec (fields EAS records but does not act on). */
export interface UpdateDecision {
  events: ServiceEvent[];
  warnings: string[];
}

/**
 * UpdateService decided on the state read from the stream, inside executeCommand's optimistic-concurrency
 * loop: the patch is applied to the version the log holds at append time, so concurrent updates (or an
 * update and a scale) cannot overwrite each other's acknowledged changes, as they could when the patch
 * was applied to the read model before the append.
 */
export function decideUpdate(request: UpdateRequest, state: ServiceState): UpdateDecision {
  if (!state.exists) throw new NotFoundError("service", request.name);
  // Updates build on the version that runs now (after a rollback, that is the rolled-back-to one).
  const updated = applyServiceUpdate(currentSpec(state), request.patch, request.updateType);
  if (!updated.ok) throw new ValidationError(toViolations(updated.issues));
  // A merge that does not name metadata.instance keeps the replicas the service has now (after
  // `eas scale` or the autoscaler), not the count of the stored spec.
  if (request.updateType !== "replace" && !patchSetsInstance(request.patch)) updated.value.instance = state.desiredReplicas;
  const updateType = request.updateType === "replace" ? "replace" : "merge";
  const events = serviceDecider.decide({ type: "UpdateService", spec: updated.value, updateType, now: request.now }, state);
  return { events, warnings: updated.warnings };
}

/** {@link decideUpdate} as a decider, for executeCommand. */
export const updateDecider: Decider<UpdateRequest, ServiceEvent, ServiceState> = {
  initialState: serviceDecider.initialState,
  evolve: serviceDecider.evolve,
  decide: (request, state) => decideUpdate(request, state).events,
};

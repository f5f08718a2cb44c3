/** What one probe saw. */
export interface ProbeOutcome {
  ok: boolean;
  /** Why it failed ("HTTP 503", "connect ECONNREFUSED", "timed out after 1000 ms"). */
  detail?: string;
  /** The target answered, with a status that is not a success (it runs, but says it is not ready). */
  answered?: boolean;
}

/** A probe's verdict so far. */
export interface ProbeState {
  passing: boolean;
  consecutiveFailures: number;
  /** Detail of the latest failure. */
  lastFailure?: string;
}

/** A change of verdict caused by one outcome. */
export type ProbeTransition = "passed" | "failed" | undefined;

/** The two probes an instance has: readiness gates traffic, liveness restarts the process. */
export type ProbeKind = "readiness" | "liveness";

/**
 * Readiness starts failing (not Ready until a probe passes); liveness starts passing
 * (the process is presumed alive until proven otherwise).
 */
export function initialProbeState(kind: ProbeKind): ProbeState {
  return { passing: kind === "liveness", consecutiveFailures: 0 };
}

/**
 * Folds one outcome into the state. A failing probe passes on its first success;
 * a passing probe fails after `failureThreshold` consecutive failures (at least 1).
 */
export function observeProbe(
  state: ProbeState,
  outcome: ProbeOutcome,
  failureThreshold: number,
): { state: ProbeState; transition: ProbeTransition } {
  if (outcome.ok) {
    return { state: { passing: true, consecutiveFailures: 0 }, transition: state.passing ? undefined : "passed" };
  }
  const consecutiveFailures = state.consecutiveFailures + 1;
  const lastFailure = outcome.detail ?? "probe failed";
  if (state.passing && consecutiveFailures >= Math.max(1, failureThreshold)) {
    return { state: { passing: false, consecutiveFailures, lastFailure }, transition: "failed" };
  }
  return { state: { passing: state.passing, consecutiveFailures, lastFailure }, transition: undefined };
}

import {
  initialProbeState,
  observeProbe,
  type ProbeKind,
  type ProbeOutcome,
  type ProbeState,
  type ProbeTransition,
} from "./probe-state.js";
import { runProbe } from "./probes.js";
import type { ProbeConfig } from "./types.js";
import { sleep } from "./wait.js";

/** Probe interval until a probe has passed once (readiness before the first Ready). */
export const STARTUP_PROBE_INTERVAL_MS = 100;

/** One probe's outcome and the verdict it led to, as a probe loop reports it. */
export interface ProbeObservation {
  kind: ProbeKind;
  outcome: ProbeOutcome;
  state: ProbeState;
  transition: ProbeTransition;
}

export interface ProbeLoopOptions {
  /** Host probes connect to. */
  host: string;
  /** Ends the loop and any probe in flight. */
  signal: AbortSignal;
  /** Called after every probe (never after `signal` aborted); returning `"stop"` ends the loop. */
  onObservation(observation: ProbeObservation): "stop" | undefined;
  /** Runs one probe; {@link runProbe} unless a test stands in. */
  probe?: typeof runProbe;
}

/**
 * Probes `config` until `signal` aborts or the observer says stop: one loop for readiness and
 * liveness, which differ only in their starting verdict (readiness failing, liveness passing; see
 * `initialProbeState`) and in what the observer does with a transition. Until the probe has passed
 * once it probes at most every {@link STARTUP_PROBE_INTERVAL_MS}: a process that boots in 0.4 s is
 * Ready then, not a whole period later. A liveness probe starts out passing, so it keeps its period.
 */
export async function runProbeLoop(kind: ProbeKind, config: ProbeConfig, options: ProbeLoopOptions): Promise<void> {
  const { signal, host } = options;
  const probe = options.probe ?? runProbe;
  let state = initialProbeState(kind);
  let passedOnce = state.passing;
  if (!(await sleep(config.initialDelayMs, signal))) return;
  while (!signal.aborted) {
    const outcome = await probe(config, { host, signal });
    if (signal.aborted) return;
    const next = observeProbe(state, outcome, config.failureThreshold);
    state = next.state;
    if (next.transition === "passed") passedOnce = true;
    if (options.onObservation({ kind, outcome, state, transition: next.transition }) === "stop") return;
    const wait = passedOnce ? config.periodMs : Math.min(config.periodMs, STARTUP_PROBE_INTERVAL_MS);
    if (!(await sleep(wait, signal))) return;
  }
}

/** The reason a probe's failure is reported with; it names the probe that failed. */
export function probeFailureReason(kind: ProbeKind, state: ProbeState): string {
  return `${kind} probe failed ${state.consecutiveFailures} times: ${state.lastFailure ?? "probe failed"}`;
}

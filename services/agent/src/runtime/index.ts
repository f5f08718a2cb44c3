export { ProcessDriver, type ProcessDriverOptions } from "./process-driver.js";
export {
  DEFAULT_LIVENESS,
  DEFAULT_READINESS,
  MODEL_MOUNT_PATH,
  PROCESSOR_PROBES,
  RuntimeSpecError,
  modelMountFor,
  mountsForSpec,
  resolveRuntime,
  rewriteMountPaths,
  type ProcessorProbes,
  type ResolveOptions,
} from "./resolve.js";
export { DEFAULT_RESTART_POLICY, decideRestart, nextBackoff, type RestartDecision } from "./restart-policy.js";
export { initialProbeState, observeProbe, type ProbeOutcome, type ProbeState, type ProbeTransition } from "./probe-state.js";
export { runProbe } from "./probes.js";
export { LogTail } from "./log-tail.js";
export {
  InstanceStatus,
  type InstanceHooks,
  type InstanceStatusEvent,
  type LogLine,
  type ProbeConfig,
  type ProcessStats,
  type ResolvedCommand,
  type RestartPolicy,
  type RunningInstance,
  type RuntimeDriver,
} from "./types.js";

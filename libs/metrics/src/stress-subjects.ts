import { defineEncodedSubject, type Subject } from "@eas/bus";
import { StressWorkerControl, StressWorkerReport } from "@eas/proto";

/**
 * Plain NATS subjects between the monitor's stress controller and its load workers (processors/loadgen).
 * Payloads are protobuf binary messages of proto/eas/v1/stress_worker.proto. Control messages carry the
 * target's token: they are internal, like every plain subject, and never stored.
 */
export const StressSubjects = {
  /** `eas.stress.control.<task>`: StressWorkerControl, from the controller, every second and on change. */
  control: "eas.stress.control.*",
  /** `eas.stress.report.<task>.<worker>`: StressWorkerReport, from each worker, every second. */
  report: "eas.stress.report.*.*",
} as const;

/** `eas.stress.control.<task>` as a bus subject: `bus.publish(stressControl.with(taskId), control)`. Untraced. */
export const stressControl: Subject<StressWorkerControl> = defineEncodedSubject<StressWorkerControl>(
  StressSubjects.control,
  { encode: (message) => StressWorkerControl.encode(message).finish(), decode: (bytes) => StressWorkerControl.decode(bytes) },
  { traced: false },
);

/** `eas.stress.report.<task>.<worker>` as a bus subject: subscribe with `stressReports.with(taskId)` for one task. Untraced. */
export const stressReports: Subject<StressWorkerReport> = defineEncodedSubject<StressWorkerReport>(
  StressSubjects.report,
  { encode: (message) => StressWorkerReport.encode(message).finish(), decode: (bytes) => StressWorkerReport.decode(bytes) },
  { traced: false },
);

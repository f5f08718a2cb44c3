export {
  LATENCY_HISTOGRAM_RANGE,
  createLatencyHistogram,
  recordLatencyUs,
  encodeLatencyHistogram,
  decodeLatencyHistogram,
  mergeEncodedLatencies,
  summarizeLatency,
} from "./latency-histogram.js";
export type { LatencyHistogram, LatencySummaryMs } from "./latency-histogram.js";
export { TrafficRecorder } from "./traffic.js";
export { LatencyCounts } from "./latency-counts.js";
export {
  MetricsSubjects,
  gatewaySampleSubject,
  instanceSampleSubject,
  encodeGatewaySample,
  decodeGatewaySample,
  encodeInstanceSample,
  decodeInstanceSample,
  gatewaySamples,
  instanceSamples,
  queueSampleSubject,
  encodeQueueSample,
  decodeQueueSample,
  queueSamples,
} from "./subjects.js";
export { StressSubjects, stressControl, stressReports } from "./stress-subjects.js";

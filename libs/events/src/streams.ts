/** Stream names of the aggregates: "<category>-<id>". */
export const StreamCategory = {
  service: "service",
  instance: "instance",
  node: "node",
  alert: "alert",
  batch: "batch",
} as const;
export type StreamCategory = (typeof StreamCategory)[keyof typeof StreamCategory];

export const serviceStream = (name: string): string => `${StreamCategory.service}-${name}`;
export const instanceStream = (id: string): string => `${StreamCategory.instance}-${id}`;
export const nodeStream = (id: string): string => `${StreamCategory.node}-${id}`;
/** One alert rule and its episodes, written by the monitor. */
export const alertStream = (ruleId: string): string => `${StreamCategory.alert}-${ruleId}`;
/** One offline batch job, written by the async-queue. */
export const batchStream = (jobId: string): string => `${StreamCategory.batch}-${jobId}`;

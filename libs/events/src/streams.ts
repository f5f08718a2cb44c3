/** Stream names of the aggregates: "<category>-<id>". */
export const StreamCategory = {
  service: "service",
  instance: "instance",
  node: "node",
  alert: "alert",
  group: "group",
  autoscaler: "autoscaler",
  cronscale: "cronscale",
  budget: "budget",
  budgetAlert: "budgetalert",
  stress: "stress",
  batch: "batch",
} as const;
export type StreamCategory = (typeof StreamCategory)[keyof typeof StreamCategory];

export const serviceStream = (name: string): string => `${StreamCategory.service}-${name}`;
export const instanceStream = (id: string): string => `${StreamCategory.instance}-${id}`;
export const nodeStream = (id: string): string => `${StreamCategory.node}-${id}`;
/** One alert rule and its episodes, written by the monitor. */
export const alertStream = (ruleId: string): string => `${StreamCategory.alert}-${ruleId}`;
/** A service group: several services behind one endpoint, written by the deployer. */
export const groupStream = (name: string): string => `${StreamCategory.group}-${name}`;
/** A service's autoscaling policy and the decisions that changed its replica count, written by the autoscaler. */
export const autoscalerStream = (service: string): string => `${StreamCategory.autoscaler}-${service}`;
/** A service's scheduled scaling jobs and their runs, written by the autoscaler. */
export const cronScaleStream = (service: string): string => `${StreamCategory.cronscale}-${service}`;
export const budgetStream = (service: string): string => `${StreamCategory.budget}-${service}`;
/** The webhook deliveries of one service's budget alerts, written by the monitor. */
export const budgetAlertStream = (service: string): string => `${StreamCategory.budgetAlert}-${service}`;
/** One stress test task and its results, written by the monitor. */
export const stressStream = (taskId: string): string => `${StreamCategory.stress}-${taskId}`;
/** One offline batch job, written by the async-queue. */
export const batchStream = (jobId: string): string => `${StreamCategory.batch}-${jobId}`;

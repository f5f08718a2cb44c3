/** Stream names of the aggregates: "<category>-<id>". */
export const StreamCategory = {
  service: "service",
  instance: "instance",
  node: "node",
  alert: "alert",
  group: "group",
  budget: "budget",
} as const;
export type StreamCategory = (typeof StreamCategory)[keyof typeof StreamCategory];

export const serviceStream = (name: string): string => `${StreamCategory.service}-${name}`;
export const instanceStream = (id: string): string => `${StreamCategory.instance}-${id}`;
export const nodeStream = (id: string): string => `${StreamCategory.node}-${id}`;
/** One alert rule and its episodes, written by the monitor. */
export const alertStream = (ruleId: string): string => `${StreamCategory.alert}-${ruleId}`;
/** A service group: several services behind one endpoint, written by the deployer. */
export const groupStream = (name: string): string => `${StreamCategory.group}-${name}`;
export const budgetStream = (service: string): string => `${StreamCategory.budget}-${service}`;

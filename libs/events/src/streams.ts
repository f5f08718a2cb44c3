/** Stream names of the aggregates: "<category>-<id>". */
export const StreamCategory = {
  service: "service",
  instance: "instance",
  node: "node",
  budget: "budget",
} as const;
export type StreamCategory = (typeof StreamCategory)[keyof typeof StreamCategory];

export const serviceStream = (name: string): string => `${StreamCategory.service}-${name}`;
export const instanceStream = (id: string): string => `${StreamCategory.instance}-${id}`;
export const nodeStream = (id: string): string => `${StreamCategory.node}-${id}`;
export const budgetStream = (service: string): string => `${StreamCategory.budget}-${service}`;

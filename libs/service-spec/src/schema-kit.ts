import type * as z from "zod";

import type { PathSegment } from "./issues.js";

/** Reports one issue at `path` (relative to the object being checked). */
export type AddIssue = (path: PathSegment[], message: string) => void;

/**
 * Adds a cross-field check that runs even when fields inside already failed, so that one pass reports every
 * issue (zod skips refinements after a failed field by default). `check` therefore sees unvalidated input.
 */
export function withCheck<T extends z.ZodType>(schema: T, check: (value: unknown, add: AddIssue) => void): T {
  return schema.superRefine((value, ctx) => check(value, (path, message) => ctx.addIssue({ code: "custom", path, message })), {
    when: () => true,
  });
}

/** The keys of `keys` that `record` sets. */
export function defined(record: Record<string, unknown>, keys: readonly string[]): string[] {
  return keys.filter((key) => record[key] !== undefined);
}

import assert from "node:assert/strict";

import type { ServiceSpec } from "@eas/proto";

import type { ParseResult, SpecIssue } from "../issues.js";

/** A minimal valid container-mode document; tests copy and change it. */
export function containerDoc(): Record<string, unknown> {
  return { metadata: { name: "demo" }, containers: [{ script: "python app.py" }] };
}

/** A minimal valid processor-mode document. */
export function processorDoc(): Record<string, unknown> {
  return { metadata: { name: "demo" }, processor: "onnx", model_path: "obj://models/demo.onnx" };
}

/** Asserts failure and returns the issues. */
export function issuesOf<T>(result: ParseResult<T>): SpecIssue[] {
  if (result.ok) assert.fail(`expected issues, got a valid result with warnings ${JSON.stringify(result.warnings)}`);
  return result.issues;
}

/** Asserts success and returns the value and warnings. */
export function valueOf<T>(result: ParseResult<T>): { value: T; warnings: string[] } {
  if (!result.ok) assert.fail(`expected a valid result, got issues: ${JSON.stringify(result.issues)}`);
  return { value: result.value, warnings: result.warnings };
}

/** Asserts that some issue has exactly `path` and, when given, a message containing `fragment`. */
export function assertIssue(issues: readonly SpecIssue[], path: string, fragment?: string): void {
  const atPath = issues.filter((issue) => issue.path === path);
  assert.ok(atPath.length > 0, `no issue at ${JSON.stringify(path)}; got ${JSON.stringify(issues)}`);
  if (fragment !== undefined) {
    assert.ok(
      atPath.some((issue) => issue.message.includes(fragment)),
      `no issue at ${JSON.stringify(path)} mentions ${JSON.stringify(fragment)}; got ${JSON.stringify(atPath)}`,
    );
  }
}

/** The container of a container-mode spec. */
export function containerOf(spec: ServiceSpec) {
  assert.equal(spec.runtime?.$case, "container");
  return spec.runtime.value;
}

/** The processor of a processor-mode spec. */
export function processorOf(spec: ServiceSpec) {
  assert.equal(spec.runtime?.$case, "processor");
  return spec.runtime.value;
}

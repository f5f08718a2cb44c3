import { resourceIdProblem } from "@eas/contracts";
import type { FieldViolation } from "@eas/decider";
import type { Probe, ServiceSpec } from "@eas/proto";
import { RuntimeSpecError, modelMountFor, resolveRuntime } from "../runtime/index.js";
import { StorageError, mountLocation, normalizeMountPath, parseSource, type MountedPath } from "../storage/index.js";

const MAX_PORT = 65_535;

export interface StartRequestContext {
  /** Root of the EAS checkout, where built-in processors live. */
  repoRoot: string;
  /** Where the instance's folder would be; nothing is created there. */
  instanceDir: string;
}

/**
 * What is wrong with a StartInstance request, each problem at its field (`spec.storage[1].mount_path`);
 * empty when the agent can lay the instance out and run it. Checks what needs no fetch: the id, mount
 * paths and sources (not whether they exist), ports, and the runtime as `resolveRuntime` sees it.
 */
export function startRequestViolations(instanceId: string, spec: ServiceSpec | undefined, context: StartRequestContext): FieldViolation[] {
  const violations: FieldViolation[] = [];
  // The id names the instance's folder and its event stream: the rule every service checks ids by.
  const idProblem = resourceIdProblem(instanceId);
  if (idProblem) violations.push({ path: "instance_id", message: idProblem });
  if (!spec) return [...violations, { path: "spec", message: "is required" }];

  // Every mount with the field it came from: the spec's storage, then the processor's model, if it is a source.
  const mounts: Array<{ field: string; mountPath: string; source: string }> = spec.storage.map((mount, index) => ({
    field: `spec.storage[${index}]`,
    ...mount,
  }));
  try {
    const model = modelMountFor(spec);
    if (model) mounts.push({ field: "spec.processor.model_path", ...model });
  } catch (error) {
    if (!(error instanceof StorageError)) throw error;
    violations.push({ path: "spec.processor.model_path", message: error.message });
  }
  const laidOut: Array<{ field: string; path: string }> = [];
  for (const mount of mounts) {
    const pathField = mount.field.endsWith("]") ? `${mount.field}.mount_path` : mount.field;
    const sourceField = mount.field.endsWith("]") ? `${mount.field}.source` : mount.field;
    try {
      parseSource(mount.source);
    } catch (error) {
      if (!(error instanceof StorageError)) throw error;
      violations.push({ path: sourceField, message: error.message });
    }
    let path: string;
    try {
      path = normalizeMountPath(mount.mountPath, mount.source);
    } catch (error) {
      if (!(error instanceof StorageError)) throw error;
      violations.push({ path: pathField, message: error.message });
      continue;
    }
    // A mount inside another would be laid out inside that mount's target, which may be the shared cache.
    const other = laidOut.find((seen) => seen.path === path || path.startsWith(`${seen.path}/`) || seen.path.startsWith(`${path}/`));
    if (other) violations.push({ path: pathField, message: `${path} overlaps ${other.field} (${other.path})` });
    laidOut.push({ field: pathField, path });
  }

  if (spec.runtime?.$case === "container") {
    const container = spec.runtime.value;
    checkPort(violations, "spec.container.port", container.port);
    checkProbePort(violations, "spec.container.readiness", container.readiness);
    checkProbePort(violations, "spec.container.liveness", container.liveness);
  }

  // The runtime as the launch will resolve it, once the mounts above are in place.
  if (violations.length === 0) {
    const mounted: MountedPath[] = laidOut.map(({ path }) => ({ mountPath: path, localPath: mountLocation(context.instanceDir, path) }));
    try {
      resolveRuntime(spec, mounted, {
        repoRoot: context.repoRoot,
        instanceDir: context.instanceDir,
        port: 1,
        instanceId,
        version: 0,
        baseEnv: {},
      });
    } catch (error) {
      if (!(error instanceof RuntimeSpecError)) throw error;
      violations.push({ path: `spec.${error.field}`, message: error.message.slice(error.field.length + 2) });
    }
  }
  return violations;
}

function checkPort(violations: FieldViolation[], path: string, port: number): void {
  // 0 is proto3's "not set": the agent picks the instance's port anyway.
  if (port > MAX_PORT) violations.push({ path, message: `${port} is not a port number (1 to ${MAX_PORT})` });
}

function checkProbePort(violations: FieldViolation[], path: string, probe: Probe | undefined): void {
  if (probe) checkPort(violations, `${path}.port`, probe.port);
}

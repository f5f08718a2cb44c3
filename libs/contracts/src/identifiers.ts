/**
 * Node and instance ids name event streams (`node-<id>`, `instance-<id>`), NATS subject tokens
 * (`eas.telemetry.heartbeat.<node>`) and folders on a node (`instances/<id>`). They keep to the
 * characters all three accept, and start with a letter or digit: no hidden folder (`_x` sorts and
 * reads like one), nothing a command line would take for an option (`-x`).
 */
export const RESOURCE_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** {@link RESOURCE_ID_PATTERN} in words, for error messages. */
export const RESOURCE_ID_RULE = "1-128 of [A-Za-z0-9_-], starting alphanumeric";

/** Whether `id` may name a node or an instance. */
export function isResourceId(id: string): boolean {
  return RESOURCE_ID_PATTERN.test(id);
}

/** What is wrong with `id` as a node or instance id (`is required`, `must be ...`), or undefined. */
export function resourceIdProblem(id: string): string | undefined {
  if (!id) return "is required";
  return isResourceId(id) ? undefined : `must be ${RESOURCE_ID_RULE}`;
}

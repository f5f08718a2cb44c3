import * as z from "zod";

import { closestMatch } from "./issues.js";
import {
  BUILT_IN_PROCESSORS,
  commandLine,
  containsCycle,
  envName,
  httpPath,
  ignored,
  isRecord,
  mustBe,
  nonEmptyString,
  portNumber,
  positiveInt,
  refused,
  rule,
  scalarString,
  seconds,
} from "./rules.js";
import { defined, withCheck } from "./schema-kit.js";

/*
 * How a service runs: its container (start command, environment, probes) or its built-in processor.
 */

// ---- probes --------------------------------------------------------------------------------------------------------

const httpGetSchema = z.strictObject({
  path: httpPath.optional(),
  port: portNumber.optional(),
});

const tcpSocketSchema = z.strictObject({
  port: portNumber.optional(),
});

/** A readiness or liveness probe, in the Kubernetes shape EAS's health checks use (snake_case). */
export const probeSchema = withCheck(
  z.strictObject({
    http_get: httpGetSchema.optional(),
    tcp_socket: tcpSocketSchema.optional(),
    exec: refused("exec probes are not supported, use http_get or tcp_socket"),
    initial_delay_seconds: seconds(true).optional(),
    period_seconds: seconds(false).optional(),
    timeout_seconds: seconds(false).optional(),
    failure_threshold: positiveInt.optional(),
    /** Accepted; only 1 is meaningful (a warning says so otherwise). */
    success_threshold: positiveInt.optional(),
  }),
  (probe, add) => {
    if (!isRecord(probe)) return;
    const kinds = defined(probe, ["http_get", "tcp_socket"]);
    if (kinds.length === 0 && probe.exec === undefined) add([], "needs http_get { path, port } or tcp_socket { port }");
    if (kinds.length > 1) add(["tcp_socket"], "give http_get or tcp_socket, not both");
  },
);

// ---- containers ----------------------------------------------------------------------------------------------------

const envVarSchema = z.strictObject({
  name: envName,
  /** Numbers and booleans (unquoted YAML) become strings. */
  value: scalarString.optional(),
});

const prepareSchema = z.strictObject({
  pythonRequirements: ignored(),
  pythonRequirementsPath: ignored(),
});

/** Aliases for the readiness probe, in order of preference. */
export const READINESS_KEYS = ["readiness_probe", "health_check", "readiness_check"] as const;
/** Aliases for the liveness probe, in order of preference. */
export const LIVENESS_KEYS = ["liveness_probe", "liveness_check"] as const;

export const containerSchema = withCheck(
  z.strictObject({
    /** Recorded only: the process driver runs the command on the node. */
    image: nonEmptyString.optional(),
    /** The start command (EAS `script`). */
    script: commandLine.optional(),
    /** Alias of `script`. */
    command: commandLine.optional(),
    port: portNumber.optional(),
    env: z.array(envVarSchema).optional(),
    prepare: prepareSchema.optional(),
    readiness_probe: probeSchema.optional(),
    health_check: probeSchema.optional(),
    readiness_check: probeSchema.optional(),
    liveness_probe: probeSchema.optional(),
    liveness_check: probeSchema.optional(),
    startup_check: ignored(),
  }),
  (container, add) => {
    if (!isRecord(container)) return;
    const commands = defined(container, ["script", "command"]);
    if (commands.length === 0) add(["script"], "is required: the start command (command is accepted as an alias)");
    if (commands.length > 1) add(["command"], "give script or command, not both (they are aliases)");
    for (const aliases of [READINESS_KEYS, LIVENESS_KEYS]) {
      const given = defined(container, aliases);
      if (given.length > 1) add([given[1] ?? ""], `give only one of ${given.join(", ")} (they are aliases)`);
    }
    if (Array.isArray(container.env)) {
      const seen = new Map<string, number>();
      container.env.forEach((entry: unknown, index) => {
        if (!isRecord(entry) || typeof entry.name !== "string") return;
        const first = seen.get(entry.name);
        if (first === undefined) seen.set(entry.name, index);
        else add(["env", index, "name"], `duplicates env[${first}].name ${JSON.stringify(entry.name)}`);
      });
    }
  },
);

// ---- processor -----------------------------------------------------------------------------------------------------

export const processorName = rule(
  // Typed as string, not BuiltInProcessor: specToDocument may carry a stored name that validation then reports.
  (value): value is string => typeof value === "string" && (BUILT_IN_PROCESSORS as readonly string[]).includes(value),
  (value) => {
    if (typeof value !== "string") return mustBe(`the name of a built-in processor (${BUILT_IN_PROCESSORS.join(", ")})`, value);
    const near = closestMatch(value, BUILT_IN_PROCESSORS);
    return (
      `processor ${JSON.stringify(value)} is not built in; available: ${BUILT_IN_PROCESSORS.join(", ")}` +
      (near ? ` (did you mean ${JSON.stringify(near)}?)` : " (for other frameworks, use containers with your own start command)")
    );
  },
);

/** Parses a processor config given as a JSON string; undefined when it is not a JSON object. */
export function parseConfigString(text: string): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}

export const processorConfig = rule(
  (value): value is Record<string, unknown> | string =>
    (isRecord(value) && !containsCycle(value)) ||
    (typeof value === "string" && (value.trim() === "" || parseConfigString(value) !== undefined)),
  "an object, or a string holding a JSON object",
);

export const CUSTOM_PROCESSOR =
  "custom processors are not supported: use a built-in processor (" +
  BUILT_IN_PROCESSORS.join(", ") +
  ") or containers with your own start command";

/** Fields that only make sense with `processor`. */
export const PROCESSOR_FIELDS = ["model_path", "processor_config", "model_config"] as const;

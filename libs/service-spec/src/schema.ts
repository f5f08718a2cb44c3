import * as z from "zod";

import { describeValue } from "./issues.js";
import { queueSchema } from "./queue-schema.js";
import { metadataSchema, cloudSchema, storageSchema } from "./resources-schema.js";
import {
  BUILT_IN_PROCESSORS,
  PROCESSORS_NEEDING_MODEL,
  ignored,
  isRecord,
  labelKeyProblem,
  labelValue,
  normalizeMountPath,
  refused,
  serviceName,
  sourceString,
} from "./rules.js";
import { CUSTOM_PROCESSOR, PROCESSOR_FIELDS, containerSchema, processorConfig, processorName, type probeSchema } from "./runtime-schema.js";
import { defined, withCheck, type AddIssue } from "./schema-kit.js";

/**
 * The accepted service.json / service.yaml document (EAS's shape). Objects are strict: an unknown key is an
 * issue, so typos are caught; known EAS fields we do not implement are accepted and produce warnings.
 * Cross-field rules (name, exactly one runtime mode, aliases, duplicates, spot settings) are part of it.
 */
export const serviceDocumentSchema = withCheck(
  z.strictObject({
    /** Older EAS files put the name here; same rule as `metadata.name`. */
    name: serviceName.optional(),
    metadata: metadataSchema.optional(),
    containers: z.array(containerSchema).optional(),
    processor: processorName.optional(),
    model_path: sourceString(false).optional(),
    processor_config: processorConfig.optional(),
    /** Alias of `processor_config`. */
    model_config: processorConfig.optional(),
    processor_path: refused(CUSTOM_PROCESSOR),
    processor_entry: refused(CUSTOM_PROCESSOR),
    processor_mainclass: refused(CUSTOM_PROCESSOR),
    processor_type: refused(CUSTOM_PROCESSOR),
    warm_up_data_path: ignored(),
    token: ignored(),
    dockerAuth: ignored(),
    networking: ignored(),
    storage: z.array(storageSchema).optional(),
    cloud: cloudSchema.optional(),
    labels: z.record(z.string(), labelValue).optional(),
    /** An async service's queue (`metadata.type: "Async"`). */
    queue: queueSchema.optional(),
  }),
  checkDocument,
);

/** A validated document, as the user wrote it (defaults are applied when it becomes a `ServiceSpec`). */
export type ServiceDocument = z.output<typeof serviceDocumentSchema>;
/** A readiness or liveness probe as written in a document. */
export type ProbeDocument = z.output<typeof probeSchema>;

function checkDocument(doc: unknown, add: AddIssue): void {
  if (!isRecord(doc)) return;
  const metadata = isRecord(doc.metadata) ? doc.metadata : undefined;
  const outer = doc.name;
  const inner = metadata?.name;
  if (outer === undefined && inner === undefined) {
    add(["metadata", "name"], "is required (or name at the top level, as older EAS files have it)");
  } else if (outer !== undefined && inner !== undefined && outer !== inner) {
    add(["name"], `conflicts with metadata.name (${describeValue(outer)} vs ${describeValue(inner)}), give only one`);
  }

  const hasContainers = doc.containers !== undefined;
  const hasProcessor = doc.processor !== undefined;
  if (hasContainers && hasProcessor) {
    add(["processor"], "give either containers (your own start command) or processor (a built-in processor), not both");
  } else if (!hasContainers && !hasProcessor) {
    add([], `needs containers (your own start command) or processor (built in: ${BUILT_IN_PROCESSORS.join(", ")})`);
  }
  if (Array.isArray(doc.containers) && doc.containers.length !== 1) {
    add(
      ["containers"],
      doc.containers.length === 0
        ? "must hold one container"
        : `holds ${doc.containers.length} containers, but exactly one is supported for now (no sidecars)`,
    );
  }
  if (hasContainers && !hasProcessor) {
    for (const key of defined(doc, PROCESSOR_FIELDS)) add([key], "is only used with processor (containers run your own command)");
  }
  if (doc.processor_config !== undefined && doc.model_config !== undefined) {
    add(["model_config"], "give processor_config or model_config, not both (they are aliases)");
  }
  if (
    typeof doc.processor === "string" &&
    (PROCESSORS_NEEDING_MODEL as readonly string[]).includes(doc.processor) &&
    doc.model_path === undefined
  ) {
    add(["model_path"], `is required for processor ${doc.processor}`);
  }

  if (Array.isArray(doc.storage)) {
    const seen = new Map<string, number>();
    doc.storage.forEach((entry: unknown, index) => {
      if (!isRecord(entry) || typeof entry.mount_path !== "string") return;
      const path = normalizeMountPath(entry.mount_path);
      const first = seen.get(path);
      if (first === undefined) seen.set(path, index);
      else add(["storage", index, "mount_path"], `duplicates storage[${first}].mount_path ${JSON.stringify(path)}`);
    });
  }

  if (doc.queue !== undefined && metadata?.type !== "Async") {
    add(["queue"], 'applies to async services only: set metadata.type to "Async"');
  }

  if (isRecord(doc.labels)) {
    for (const key of Object.keys(doc.labels)) {
      const problem = labelKeyProblem(key);
      if (problem) add(["labels", key], problem);
    }
  }
}

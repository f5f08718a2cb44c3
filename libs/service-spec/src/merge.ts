import type { ServiceSpec } from "@eas/proto";

import { describeValue, type ParseResult, type SpecIssue } from "./issues.js";
import { checkDocument, parseDocumentText } from "./parse.js";
import { containsCycle, isRecord } from "./rules.js";
import type { ServiceDocument } from "./schema.js";
import { specToDocument } from "./to-document.js";

/** How an update applies (EAS `UpdateType`). */
export const UPDATE_TYPES = ["merge", "replace"] as const;
export type UpdateType = (typeof UPDATE_TYPES)[number];

/** Spot settings are replaced as a group: a patch that names one drops the others from the current document. */
const SPOT_KEYS = ["spot", "spot_strategy", "max_price", "instances"] as const;
/** Fields of processor mode; a patch that sets `containers` drops them. */
const PROCESSOR_KEYS = ["processor", "model_path", "processor_config", "model_config"] as const;
const CONFIG_ALIASES = ["processor_config", "model_config"] as const;

/**
 * Applies `patch` to `current` and validates the result.
 *
 * - `merge` (EAS's default): objects merge key by key, arrays and scalars in the patch replace the current
 *   ones, and `null` removes a key (JSON Merge Patch, RFC 7396). Setting `containers` switches to container
 *   mode (the processor fields go); setting `processor` switches to processor mode (`containers` goes). A patch
 *   that names any spot setting replaces all of them; `model_config` and `processor_config` are one field.
 * - `replace`: the patch is the whole new document; without a name it keeps the current one.
 *
 * In both, the name cannot change.
 */
export function mergeServiceDocuments(current: ServiceDocument, patch: unknown, updateType: UpdateType): ParseResult<ServiceDocument> {
  const merged = mergeAndCheck(current, patch, updateType);
  return merged.ok ? { ok: true, value: merged.document, warnings: merged.warnings } : merged;
}

/**
 * The deployer's update in one call: parses `patchText` (JSON or YAML), applies it to the stored spec with
 * `updateType` ("" means "merge"), and returns the new normalized spec. Never throws.
 */
export function applyServiceUpdate(current: ServiceSpec, patchText: string, updateType: string): ParseResult<ServiceSpec> {
  const type = updateType === "" ? "merge" : updateType;
  if (!isUpdateType(type)) {
    return { ok: false, issues: [{ path: "update_type", message: `must be "merge" or "replace", got ${describeValue(updateType)}` }] };
  }
  const parsed = parseDocumentText(patchText);
  if (!parsed.ok) return parsed;
  const merged = mergeAndCheck(specToDocument(current), parsed.value, type);
  return merged.ok ? { ok: true, value: merged.spec, warnings: merged.warnings } : merged;
}

export function isUpdateType(value: string): value is UpdateType {
  return (UPDATE_TYPES as readonly string[]).includes(value);
}

function mergeAndCheck(current: ServiceDocument, patch: unknown, updateType: UpdateType) {
  if (!isRecord(patch) || containsCycle(patch)) {
    const message = isRecord(patch)
      ? "the update refers back to itself (recursive aliases are not supported)"
      : `the update must be an object (a full or partial service document), got ${describeValue(patch)}`;
    return { ok: false as const, issues: [{ path: "", message }] };
  }
  const currentName = current.metadata?.name ?? current.name;
  let candidate: Record<string, unknown>;
  if (updateType === "replace") {
    candidate = structuredClone(patch);
    // Fill the name only where it can go; a malformed metadata is left for validation to report.
    if (candidate.name === undefined && candidate.metadata === undefined) candidate.metadata = { name: currentName };
    else if (candidate.name === undefined && isRecord(candidate.metadata) && candidate.metadata.name === undefined) {
      candidate.metadata = { ...candidate.metadata, name: currentName };
    }
  } else {
    candidate = mergePatch(alignWithPatch(structuredClone(current) as Record<string, unknown>, patch), patch);
  }

  const nameIssues: SpecIssue[] = [];
  const candidateMetadata = isRecord(candidate.metadata) ? candidate.metadata : {};
  for (const [path, value] of [
    ["metadata.name", candidateMetadata.name],
    ["name", candidate.name],
  ] as const) {
    if (typeof value === "string" && value !== currentName) {
      nameIssues.push({
        path,
        message: `cannot change the service name (${describeValue(currentName)} to ${describeValue(value)}), create a new service instead`,
      });
    }
  }

  const currentType = current.metadata?.type ?? "Standard";
  const candidateType = candidateMetadata.type ?? "Standard";
  if (typeof candidateType === "string" && candidateType !== currentType) {
    nameIssues.push({
      path: "metadata.type",
      message: `cannot change a ${currentType} service into an ${candidateType} one (its requests would change hands), create a new service instead`,
    });
  }

  const checked = checkDocument(candidate);
  if (nameIssues.length > 0) return { ok: false as const, issues: [...nameIssues, ...(checked.ok ? [] : checked.issues)] };
  return checked;
}

/** Prepares the current document so that the patch's spelling and mode win (see {@link mergeServiceDocuments}). */
function alignWithPatch(current: Record<string, unknown>, patch: Record<string, unknown>): Record<string, unknown> {
  // The name goes where the patch writes it: a patch with a top-level `name` is judged on that name alone,
  // not also blamed for a `metadata.name` it does not have (and the reverse).
  const patchMetadataName = isRecord(patch.metadata) ? patch.metadata.name : undefined;
  if (patch.name !== undefined && patchMetadataName === undefined && isRecord(current.metadata) && current.metadata.name !== undefined) {
    current.name = current.metadata.name;
    delete current.metadata.name;
  } else if (patchMetadataName !== undefined && patch.name === undefined && current.name !== undefined) {
    current.metadata = { ...(isRecord(current.metadata) ? current.metadata : {}), name: current.name };
    delete current.name;
  }
  if (patch.containers !== undefined && patch.containers !== null && patch.processor === undefined) {
    for (const key of PROCESSOR_KEYS) delete current[key];
  }
  if (patch.processor !== undefined && patch.processor !== null && patch.containers === undefined) {
    delete current.containers;
  }
  for (const [spelling, other] of [CONFIG_ALIASES, [...CONFIG_ALIASES].reverse()] as const) {
    if (patch[spelling] !== undefined && current[other] !== undefined && current[spelling] === undefined) {
      current[spelling] = current[other];
      delete current[other];
    }
  }
  if (isRecord(patch.cloud) && isRecord(patch.cloud.computing) && isRecord(current.cloud) && isRecord(current.cloud.computing)) {
    const patchComputing = patch.cloud.computing;
    if (SPOT_KEYS.some((key) => patchComputing[key] !== undefined)) {
      for (const key of SPOT_KEYS) delete current.cloud.computing[key];
    }
  }
  return current;
}

/** JSON Merge Patch: objects merge, everything else replaces, null deletes. */
function mergePatch(target: unknown, patch: Record<string, unknown>): Record<string, unknown> {
  const base: Record<string, unknown> = isRecord(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      delete base[key];
      continue;
    }
    const next = isRecord(value) ? mergePatch(base[key], value) : structuredClone(value);
    // An own "__proto__" key must stay data (and be reported as an unknown field), never a prototype.
    Object.defineProperty(base, key, { value: next, enumerable: true, writable: true, configurable: true });
  }
  return base;
}

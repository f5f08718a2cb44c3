import type { PathSegment } from "./issues.js";
import { isRecord } from "./rules.js";
import { serviceDocumentSchema } from "./schema.js";

/**
 * The keys an object in the document accepts at `path` (for "did you mean" hints), found by walking the schema.
 */
export function knownKeysAt(path: readonly PathSegment[]): string[] {
  let schema: unknown = serviceDocumentSchema;
  for (const segment of path) {
    schema = unwrap(schema);
    const def = defOf(schema);
    if (def?.type === "object" && typeof segment === "string" && isRecord(def.shape)) schema = def.shape[segment];
    else if (def?.type === "array" && typeof segment === "number") schema = def.element;
    else if (def?.type === "record") schema = def.valueType;
    else return [];
  }
  const def = defOf(unwrap(schema));
  return def?.type === "object" && isRecord(def.shape) ? Object.keys(def.shape) : [];
}

interface LooseDef {
  type?: unknown;
  shape?: unknown;
  element?: unknown;
  valueType?: unknown;
  innerType?: unknown;
  in?: unknown;
}

function defOf(schema: unknown): LooseDef | undefined {
  if (!isRecord(schema)) return undefined;
  const internals = schema._zod;
  return isRecord(internals) && isRecord(internals.def) ? (internals.def as LooseDef) : undefined;
}

function unwrap(schema: unknown): unknown {
  let current = schema;
  for (let depth = 0; depth < 10; depth++) {
    const def = defOf(current);
    if (def?.type === "optional" || def?.type === "nullable" || def?.type === "default") current = def.innerType;
    else if (def?.type === "pipe") current = def.in;
    else break;
  }
  return current;
}

import type { ServiceSpec } from "@eas/proto";
import YAML from "yaml";
import type * as z from "zod";

import { closestMatch, describeValue, type ParseResult, type PathSegment, type SpecIssue, formatPath } from "./issues.js";
import { SERVICE_NAME_PATTERN, containsCycle } from "./rules.js";
import { knownKeysAt } from "./known-keys.js";
import { serviceDocumentSchema, type ServiceDocument } from "./schema.js";
import { documentToSpec } from "./to-spec.js";

/**
 * Reads a JSON or YAML service document. Text whose first non-blank character is `{` or `[` is read as JSON;
 * anything else as YAML 1.2 (duplicate keys are errors). Syntax errors become issues with path "" that give the
 * line and column. Never throws.
 */
export function parseDocumentText(text: string): ParseResult<unknown> {
  if (text.trim() === "") return failure("", "the document is empty");
  const first = text.trimStart()[0];
  return first === "{" || first === "[" ? parseJson(text) : parseYaml(text);
}

/**
 * Parses a service.json / service.yaml document into the normalized `ServiceSpec`, with warnings for the EAS
 * fields it accepted but ignores, or with every issue found. Never throws.
 */
export function parseServiceDocument(text: string): ParseResult<ServiceSpec> {
  const parsed = parseDocumentText(text);
  return parsed.ok ? validateServiceDocument(parsed.value) : parsed;
}

/** Validates an already-parsed document (e.g. from a JSON request body) into the normalized `ServiceSpec`. Never throws. */
export function validateServiceDocument(doc: unknown): ParseResult<ServiceSpec> {
  const checked = checkDocument(doc);
  return checked.ok ? { ok: true, value: checked.spec, warnings: checked.warnings } : checked;
}

/** Validates a document and returns it as written (no defaults filled), with the same warnings and issues. */
export function checkServiceDocument(doc: unknown): ParseResult<ServiceDocument> {
  const checked = checkDocument(doc);
  return checked.ok ? { ok: true, value: checked.document, warnings: checked.warnings } : checked;
}

/** True when `name` is a valid service name (see `SERVICE_NAME_PATTERN`). */
export function isValidServiceName(name: string): boolean {
  return SERVICE_NAME_PATTERN.test(name);
}

/** The result of validating a document: both its written form and its normalized spec. */
export type CheckedDocument =
  { ok: true; document: ServiceDocument; spec: ServiceSpec; warnings: string[] } | { ok: false; issues: SpecIssue[] };

/** Validates and normalizes in one pass; the building block of the public functions. */
export function checkDocument(doc: unknown): CheckedDocument {
  const result = serviceDocumentSchema.safeParse(doc, { reportInput: true });
  if (!result.success) return { ok: false, issues: toSpecIssues(result.error.issues) };
  const { spec, warnings } = documentToSpec(result.data);
  return { ok: true, document: result.data, spec, warnings };
}

function failure(path: string, message: string): { ok: false; issues: SpecIssue[] } {
  return { ok: false, issues: [{ path, message }] };
}

/** zod's issues as `SpecIssue`s: one per unknown key (with a "did you mean"), plain wording for type errors. */
function toSpecIssues(issues: readonly z.core.$ZodIssue[]): SpecIssue[] {
  const out: SpecIssue[] = [];
  const seen = new Set<string>();
  const push = (path: readonly PathSegment[], message: string) => {
    const issue = { path: formatPath(path), message };
    const key = `${issue.path}\u0000${issue.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(issue);
    }
  };
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) push([...issue.path, key], unknownFieldMessage(issue.path, key));
    } else if (issue.code === "invalid_type") {
      push(issue.path, `must be ${TYPE_WORDS[issue.expected] ?? issue.expected}, got ${describeValue(issue.input)}`);
    } else {
      push(issue.path, issue.message);
    }
  }
  return out;
}

const TYPE_WORDS: Record<string, string> = {
  object: "an object",
  array: "a list",
  record: "a map of strings",
  string: "a string",
  number: "a number",
  boolean: "true or false",
};

/** Where a misplaced key belongs: EAS users often put metadata fields at the top, or rpc fields in metadata. */
const NESTED_HOMES: ReadonlyArray<{ at: string; home: PathSegment[] }> = [
  { at: "", home: ["metadata"] },
  { at: "", home: ["metadata", "rpc"] },
  { at: "metadata", home: ["metadata", "rpc"] },
];

function unknownFieldMessage(path: readonly PathSegment[], key: string): string {
  const here = formatPath(path);
  for (const { at, home } of NESTED_HOMES) {
    if (at === here && knownKeysAt(home).includes(key)) return `unknown field here: it belongs under ${formatPath(home)}`;
  }
  const near = closestMatch(key, knownKeysAt(path));
  return near ? `unknown field (did you mean ${JSON.stringify(near)}?)` : "unknown field";
}

function parseJson(text: string): ParseResult<unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return { ok: true, value, warnings: [] };
  } catch (error) {
    const raw = error instanceof Error ? error.message : String(error);
    const where = jsonErrorLocation(text, raw);
    const reason = raw
      .replace(/\s*in JSON at position \d+.*$/s, "")
      .replace(/, ".*" is not valid JSON$/s, "")
      .replace(/\n/g, "\\n");
    return failure("", `invalid JSON${where ? ` at line ${where.line}, column ${where.col}` : ""}: ${reason}`);
  }
}

/** V8 names a position for most JSON errors; for the rest, YAML's JSON-schema reader (a JSON superset) finds it. */
function jsonErrorLocation(text: string, message: string): { line: number; col: number } | undefined {
  const position = /position (\d+)/.exec(message)?.[1];
  if (position !== undefined) return lineAndColumn(text, Number(position));
  if (message.includes("Unexpected end of JSON input")) return lineAndColumn(text, text.trimEnd().length);
  try {
    const located = YAML.parseDocument(text, { prettyErrors: true, schema: "json" }).errors[0]?.linePos?.[0];
    return located === undefined ? undefined : { line: located.line, col: located.col };
  } catch {
    return undefined;
  }
}

function lineAndColumn(text: string, offset: number): { line: number; col: number } {
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, col: (before[before.length - 1]?.length ?? 0) + 1 };
}

/**
 * A key indented more than the key above it reads to the YAML parser as a multi-line value of that key: it
 * reports "Nested mappings are not allowed in compact mappings" at the value one line above the mistake.
 * This names the mis-indented key's own line and column instead. Undefined for any other error.
 */
function overIndentedKey(text: string, errors: readonly YAML.YAMLError[]): string | undefined {
  const error = errors.find((e) => e.code === "BLOCK_AS_IMPLICIT_KEY");
  const at = error?.linePos?.[0];
  if (!at) return undefined;
  const lines = text.split(/\r?\n/);
  const indentOf = (line: string) => line.length - line.trimStart().length;
  const above = lines[at.line - 1] ?? "";
  const nextIndex = lines.findIndex((line, i) => i >= at.line && line.trim() !== "" && !line.trimStart().startsWith("#"));
  const next = lines[nextIndex];
  if (next === undefined || indentOf(next) <= indentOf(above)) return undefined;
  const key = /^\s*([^:#\s][^:#]*?)\s*:/.exec(next)?.[1];
  const aboveKey = /^\s*([^:#\s][^:#]*?)\s*:/.exec(above)?.[1];
  if (key === undefined || aboveKey === undefined) return undefined;
  return (
    `invalid YAML at line ${nextIndex + 1}, column ${indentOf(next) + 1}: "${key}" is indented more than "${aboveKey}" ` +
    `on line ${at.line}; keys of one mapping start at the same column`
  );
}

function parseYaml(text: string): ParseResult<unknown> {
  let document: YAML.Document.Parsed;
  try {
    document = YAML.parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  } catch (error) {
    return failure("", `invalid YAML: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (document.errors.length > 0) {
    const overIndented = overIndentedKey(text, document.errors);
    if (overIndented) return failure("", overIndented);
    return {
      ok: false,
      issues: document.errors.map((error) => {
        const at = error.linePos?.[0];
        const reason = error.message.split(" at line ")[0] ?? error.message;
        return { path: "", message: `invalid YAML${at ? ` at line ${at.line}, column ${at.col}` : ""}: ${reason}` };
      }),
    };
  }
  try {
    const value: unknown = document.toJS({ maxAliasCount: 100 });
    if (containsCycle(value)) return failure("", "invalid YAML: recursive aliases are not supported");
    // A YAML file holding only comments reads as null.
    return value === null || value === undefined ? failure("", "the document is empty") : { ok: true, value, warnings: [] };
  } catch (error) {
    return failure("", `invalid YAML: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** One problem found in a service document, located by a dotted path such as `containers[0].port`. */
export interface SpecIssue {
  /** Where the problem is: `metadata.cpu`, `containers[0].port`, `labels["app.kubernetes.io/name"]`; "" for the whole document. */
  path: string;
  message: string;
}

/** The outcome of parsing or validating: a value and its warnings, or every issue found. */
export type ParseResult<T> = { ok: true; value: T; warnings: string[] } | { ok: false; issues: SpecIssue[] };

/** A path segment as zod reports it. */
export type PathSegment = PropertyKey;

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Renders `["containers", 0, "port"]` as `containers[0].port`; keys that are not identifiers are quoted: `labels["a.b/c"]`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = "";
  for (const segment of path) {
    if (typeof segment === "number") out += `[${segment}]`;
    else if (typeof segment === "string" && IDENTIFIER.test(segment)) out += out === "" ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}

/**
 * One line listing every issue, `path: message; path: message`, for a gRPC INVALID_ARGUMENT detail or a CLI error.
 */
export function formatIssues(issues: readonly SpecIssue[]): string {
  return issues.map((issue) => (issue.path === "" ? issue.message : `${issue.path}: ${issue.message}`)).join("; ");
}

/** Renders a warning with the same `path: message` shape as an issue. */
export function formatWarning(path: readonly PathSegment[], message: string): string {
  const at = formatPath(path);
  return at === "" ? message : `${at}: ${message}`;
}

/** Thrown by callers that prefer exceptions (see {@link unwrapResult}); never retryable: the document must change. */
export class InvalidServiceSpecError extends Error {
  readonly issues: readonly SpecIssue[];
  readonly retryable = false;
  constructor(issues: readonly SpecIssue[]) {
    super(`invalid service spec: ${formatIssues(issues)}`);
    this.name = new.target.name;
    this.issues = issues;
  }
}

/** Returns the value of an ok result, or throws {@link InvalidServiceSpecError} with all its issues. */
export function unwrapResult<T>(result: ParseResult<T>): T {
  if (!result.ok) throw new InvalidServiceSpecError(result.issues);
  return result.value;
}

/** A short rendering of a user's value for a message: `"two"`, `-1`, `a list`, `an object`, `null`. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value === "string") {
    const shown = value.length > 40 ? `${value.slice(0, 37)}...` : value;
    return JSON.stringify(shown);
  }
  return typeof value;
}

/**
 * The closest candidate to `word` when it is a likely typo: edit distance at most 2 (or a third of its length),
 * or sharing all but the last letter of the shorter one as a prefix (`compute` / `computing`).
 */
export function closestMatch(word: string, candidates: readonly string[]): string | undefined {
  const lower = word.toLowerCase();
  const prefixed = candidates.find((candidate) => {
    const other = candidate.toLowerCase();
    let shared = 0;
    while (shared < lower.length && lower[shared] === other[shared]) shared++;
    return shared >= Math.max(4, Math.min(lower.length, other.length) - 1);
  });
  if (prefixed !== undefined) return prefixed;
  const limit = Math.max(2, Math.floor(word.length / 3));
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return bestDistance <= limit ? best : undefined;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

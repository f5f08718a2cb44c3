import { CALLBACK_URL_HEADER } from "@eas/contracts";

/** What a submission to an async service asks for, read from its path and headers. */
export interface Submission {
  /** EAS's `_priority_`: priority requests are dispatched before the others. */
  readonly priority: boolean;
  /** The path and query to send the instance, `_priority_` removed: "/" or "/sub/path?query". */
  readonly path: string;
  /** Where to POST the result, from `X-Eas-Callback-Url`. */
  readonly callbackUrl: string | undefined;
  /** The headers to send the instance, as `[name, value]` pairs: no token (it is not stored), no callback, no length. */
  readonly headers: [string, string][];
}

/** Why a submission is refused (answered 400). */
export interface SubmissionProblem {
  readonly problem: string;
}

const PRIORITY_PARAM = "_priority_";
const CALLBACK_HEADER = CALLBACK_URL_HEADER.toLowerCase();
/** Not kept with a queued request: the service's token stays out of the queue, the length is the body's own. */
const DROPPED = new Set(["authorization", "content-length"]);

/**
 * Reads a submission: `_priority_` from the query (`1`/`true`, or any integer above 0, is a priority request;
 * `0`/`false` is not), the callback URL (http or https), and the headers to keep. Pure.
 */
export function readSubmission(path: string, forward: readonly string[]): Submission | SubmissionProblem {
  let priority = false;
  let upstreamPath = path;
  const queryStart = path.indexOf("?");
  if (queryStart !== -1 && path.includes(PRIORITY_PARAM, queryStart)) {
    const params = new URLSearchParams(path.slice(queryStart + 1));
    const values = params.getAll(PRIORITY_PARAM);
    if (values.length > 0) {
      const value = values[values.length - 1] ?? "";
      const parsed = parsePriority(value);
      if (parsed === undefined) return { problem: `${PRIORITY_PARAM} must be 0, 1, true or false, got ${JSON.stringify(value)}` };
      priority = parsed;
      params.delete(PRIORITY_PARAM);
      const rest = params.toString();
      upstreamPath = path.slice(0, queryStart) + (rest === "" ? "" : `?${rest}`);
    }
  }

  const headers: [string, string][] = [];
  let callbackUrl: string | undefined;
  for (let k = 0; k + 1 < forward.length; k += 2) {
    const name = forward[k] as string;
    const value = forward[k + 1] as string;
    const lower = name.toLowerCase();
    if (lower === CALLBACK_HEADER) {
      callbackUrl = value;
      continue;
    }
    if (DROPPED.has(lower)) continue;
    headers.push([name, value]);
  }
  if (callbackUrl !== undefined && !isHttpUrl(callbackUrl)) {
    return { problem: `${CALLBACK_URL_HEADER} must be an http:// or https:// URL, got ${JSON.stringify(callbackUrl)}` };
  }
  return { priority, path: upstreamPath, callbackUrl, headers };
}

export function isSubmissionProblem(value: Submission | SubmissionProblem): value is SubmissionProblem {
  return "problem" in value;
}

function parsePriority(value: string): boolean | undefined {
  const lower = value.trim().toLowerCase();
  if (lower === "true") return true;
  if (lower === "false" || lower === "") return false;
  if (!/^\d{1,9}$/.test(lower)) return undefined;
  return Number(lower) > 0;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (url.protocol === "http:" || url.protocol === "https:") && url.hostname !== "";
  } catch {
    return false;
  }
}

/** The request id asked for by `GET .../results/<id>` or EAS's `GET .../sink?requestId=<id>`; "" for the watch. */
export function requestedResultId(path: string): string | undefined {
  const queryStart = path.indexOf("?");
  const bare = queryStart === -1 ? path : path.slice(0, queryStart);
  if (bare === "/sink") return new URLSearchParams(queryStart === -1 ? "" : path.slice(queryStart + 1)).get("requestId") ?? undefined;
  if (bare === "/results" || bare === "/results/") return "";
  const raw = bare.slice("/results/".length);
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

import { CliError } from "../client.js";

/** The request id header (EAS's name). */
const REQUEST_ID = "x-eas-queueservice-request-id";

/** Where a service's requests go: its gateway endpoint, `http://host:port/api/predict/<name>`, and its token. */
export interface ServiceEndpoint {
  readonly endpoint: string;
  readonly token: string;
}

/** A result as the CLI shows it. */
export type ResultRead =
  | { readonly status: "done"; readonly code: number; readonly headers: Record<string, string>; readonly body: string }
  | { readonly status: "pending"; readonly attempts: number; readonly error?: string }
  | { readonly status: "failed"; readonly error: string }
  | { readonly status: "unknown"; readonly error: string };

async function call(url: string, init: RequestInit, endpoint: string): Promise<Response> {
  return fetch(url, init).catch((error: unknown) => {
    throw new CliError(`cannot reach the gateway at ${endpoint}: ${(error as Error).message}`);
  });
}

/** Queues a request on an async service; resolves with its id once the gateway has it durably queued. */
export async function submitAsync(
  service: ServiceEndpoint,
  options: { path: string; body: string; priority: boolean; callbackUrl?: string },
): Promise<{ requestId: string; index: number }> {
  const sub = options.path ? `/${options.path.replace(/^\//, "")}` : "";
  const url = `${service.endpoint}${sub}${options.priority ? `${sub.includes("?") ? "&" : "?"}_priority_=1` : ""}`;
  const headers: Record<string, string> = { Authorization: service.token, "Content-Type": "application/json" };
  if (options.callbackUrl) headers["X-Eas-Callback-Url"] = options.callbackUrl;
  const response = await call(url, { method: "POST", headers, body: options.body }, service.endpoint);
  const text = await response.text();
  if (response.status !== 200) throw new CliError(`HTTP ${response.status}: ${errorMessage(text)}`);
  const requestId = response.headers.get(REQUEST_ID);
  if (!requestId)
    throw new CliError(`the gateway did not queue the request (no ${REQUEST_ID} in its answer): is ${service.endpoint} an async service?`);
  return { requestId, index: (JSON.parse(text) as { index?: number }).index ?? 0 };
}

/** Reads a request's result once. */
export async function readResult(service: ServiceEndpoint, requestId: string): Promise<ResultRead> {
  const url = `${service.endpoint}/results/${encodeURIComponent(requestId)}`;
  const response = await call(url, { headers: { Authorization: service.token } }, service.endpoint);
  const text = await response.text();
  if (response.status === 200) {
    const headers: Record<string, string> = {};
    response.headers.forEach((value, name) => (headers[name] = value));
    return { status: "done", code: Number(response.headers.get("x-eas-result-code")) || 200, headers, body: text };
  }
  if (response.status === 202) {
    const pending = JSON.parse(text) as { attempts?: number; error?: string };
    return { status: "pending", attempts: pending.attempts ?? 0, ...(pending.error ? { error: pending.error } : {}) };
  }
  if (response.status === 502) return { status: "failed", error: errorMessage(text) };
  if (response.status === 404) return { status: "unknown", error: errorMessage(text) };
  throw new CliError(`HTTP ${response.status}: ${errorMessage(text)}`);
}

/** Reads a request's result until it is no longer pending, polling with back-off up to `timeoutMs`. */
export async function waitForResult(service: ServiceEndpoint, requestId: string, timeoutMs: number): Promise<ResultRead> {
  const deadline = Date.now() + timeoutMs;
  let pause = 100;
  for (;;) {
    const result = await readResult(service, requestId);
    if (result.status !== "pending" || Date.now() + pause > deadline) return result;
    await new Promise((resolve) => setTimeout(resolve, pause));
    pause = Math.min(2_000, pause * 2);
  }
}

function errorMessage(text: string): string {
  try {
    return (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? text;
  } catch {
    return text;
  }
}

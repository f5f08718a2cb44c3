import type { IncomingMessage, ServerResponse } from "node:http";
import type { RouteEntry } from "./route-table.js";

/**
 * A request admitted on an async service (its route has `async`): a submission to queue, or a read of its
 * results. The proxy hands it over whole; the implementation (`services/gateway/src/async/`) answers it.
 */
export interface AsyncExchange {
  readonly route: RouteEntry;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  /** What followed `/api/predict/<service>`: "/" or "/sub/path?query". */
  readonly path: string;
  /** The request's forwardable headers, flat `[name, value, ...]` (no Authorization, no hop-by-hop ones). */
  readonly headers: readonly string[];
  /** The declared body size; -1 when the body is chunked or absent. */
  readonly contentLength: number;
  /** Largest body accepted (the service's `max_payload_size_kb`, within the gateway's own limit). */
  readonly maxBodyBytes: number;
  /** The gateway is shutting down: answers end their connection. */
  readonly closing: boolean;
  /** Call once, with the status the request was answered with (per-request observation). */
  answered(status: number): void;
}

/** The gateway's async requests: queueing on async services and reading their results (ADR 0029). */
export interface AsyncRequests {
  enqueue(exchange: AsyncExchange): void;
  readResults(exchange: AsyncExchange): void;
  /** Waits for submissions in flight and ends result watches. */
  close(): Promise<void>;
}

const RESULTS = "/results";
const SINK = "/sink";

/**
 * Whether a request to an async service reads results rather than queueing: `GET .../results/<id>`, the
 * results watch `GET .../results`, and EAS's `GET .../sink?requestId=<id>`. Everything else is queued.
 */
export function isResultsRead(method: string | undefined, path: string): boolean {
  if (method !== "GET" && method !== "HEAD") return false;
  const end = path.indexOf("?");
  const bare = end === -1 ? path : path.slice(0, end);
  return bare === RESULTS || bare.startsWith(`${RESULTS}/`) || bare === SINK;
}

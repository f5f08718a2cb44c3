import type { Socket } from "node:net";
import { presentedToken, tokenMatches } from "./auth.js";
import { GatewayErrorCode } from "./errors.js";
import { unavailableReason } from "./route-table.js";
import type { ServiceRoute } from "./service-route.js";

/** Why a request is not admitted, and how to answer it. */
export interface Rejection {
  readonly code: GatewayErrorCode;
  readonly message: string;
  /** End a kept-alive connection after the answer (its body will not be read). */
  readonly closeConnection: boolean;
  /** Flat `[name, value, ...]` headers to add (`retry-after`). */
  readonly headers?: readonly string[];
}

/**
 * What admission decided: send the request to an instance (`proxy`), hand it to the service's async queue
 * (`enqueue`), let it read the async service's results (`results`), hold it until the service's first
 * instance is Ready (`hold`), or refuse it.
 */
export type AdmissionOutcome =
  | { readonly kind: "proxy" }
  | { readonly kind: "enqueue"; readonly maxBodyBytes: number }
  | { readonly kind: "results" }
  /** Admitted, but to wait for a first instance: the service is at zero and scales up on demand (`cold-start.ts`). */
  | { readonly kind: "hold" }
  | { readonly kind: "reject"; readonly rejection: Rejection };

const PROXY: AdmissionOutcome = { kind: "proxy" };
const RESULTS: AdmissionOutcome = { kind: "results" };
const HOLD: AdmissionOutcome = { kind: "hold" };

const kAuthMemo = Symbol("eas.authMemo");
type AuthCachingSocket = Socket & { [kAuthMemo]?: { digest: Buffer; header: string } };

/**
 * Admission: what a request to a known service must pass before it is sent or queued, the same for
 * plain requests and upgrades (WebSocket), so both get the same answers. A new kind of answer at the
 * door (holding a request while a service scales up from zero, handing it to an async queue) is a
 * new outcome here.
 */
export class Admission {
  readonly #maxBodyBytes: number;
  readonly #retryAfter: string;

  /** @param retryAfter the `Retry-After` value sent with a 503 for a service without a Ready instance. */
  constructor(maxBodyBytes: number, retryAfter: string) {
    this.#maxBodyBytes = maxBodyBytes;
    this.#retryAfter = retryAfter;
  }

  /**
   * Checks, in this order: the token (401), the declared body size (413), a Ready instance (503),
   * the rate limit (429, taking a token when it admits). `contentLength` is -1 when the request declares none.
   *
   * On an async service (its route has `async`) the request is queued instead (`enqueue`): its body must fit
   * the queue's limit and it needs no Ready instance, but the service must not be stopped (503); a read of its
   * results (`readsResults`) needs the token alone.
   * A service that scales from zero and has no instance yet holds the request (`hold`, `cold-start.ts`).
   */
  check<W>(
    route: ServiceRoute<W>,
    socket: Socket,
    authorization: string | undefined,
    contentLength: number,
    now: number,
    readsResults = false,
  ): AdmissionOutcome {
    if (!this.#authorized(socket as AuthCachingSocket, authorization, route.tokenDigest)) {
      return reject({
        code: GatewayErrorCode.Unauthorized,
        message: "missing or invalid token in the Authorization header",
        closeConnection: false,
      });
    }
    const queue = route.entry.async;
    if (queue && readsResults) return RESULTS;
    const maxBodyBytes = queue ? Math.min(queue.maxPayloadBytes, this.#maxBodyBytes) : this.#maxBodyBytes;
    if (contentLength > maxBodyBytes) {
      return reject({
        code: GatewayErrorCode.PayloadTooLarge,
        message: `request body of ${contentLength} bytes exceeds ${maxBodyBytes}`,
        closeConnection: true,
      });
    }
    if (!queue && route.holdsRequests) return HOLD;
    if (queue ? route.entry.state === "stopped" : !route.routable) {
      return reject({
        code: GatewayErrorCode.ServiceUnavailable,
        message: `service ${route.name} has no ready instance (${unavailableReason(route.entry)})`,
        closeConnection: false,
        headers: ["retry-after", this.#retryAfter],
      });
    }
    const bucket = route.bucket;
    if (bucket && !bucket.tryTake(now)) {
      return reject({
        code: GatewayErrorCode.RateLimited,
        message: `service ${route.name} is limited to ${route.entry.rateLimit} requests/s`,
        closeConnection: false,
        headers: ["retry-after", String(bucket.retryAfterSeconds())],
      });
    }
    return queue ? { kind: "enqueue", maxBodyBytes } : PROXY;
  }

  /**
   * Token check, with a per-connection memo: a keep-alive client that proved
   * the token once on this connection is not hashed again while it sends the
   * identical header value for the same token. The memo only ever holds a
   * value this very connection sent and that was valid, so comparing against
   * it reveals nothing to the sender it did not already know; any other
   * value takes the constant-time path.
   */
  #authorized(socket: AuthCachingSocket, authorization: string | undefined, digest: Buffer): boolean {
    const memo = socket[kAuthMemo];
    if (memo !== undefined && authorization !== undefined && memo.digest === digest && memo.header === authorization) return true;
    if (!tokenMatches(presentedToken(authorization), digest)) return false;
    if (authorization !== undefined) socket[kAuthMemo] = { digest, header: authorization };
    return true;
  }
}

function reject(rejection: Rejection): AdmissionOutcome {
  return { kind: "reject", rejection };
}

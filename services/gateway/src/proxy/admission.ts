import type { Socket } from "node:net";
import { presentedToken, tokenMatches } from "./auth.js";
import { GatewayErrorCode } from "./errors.js";
import { unavailableReason } from "./route-table.js";
import type { GroupRoute } from "./group-route.js";
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

/** What a request says besides its token and size that admission looks at. */
export interface AdmissionRequest {
  /** The parsed `X-Eas-Version`: 0 when absent, -1 when not a version. */
  readonly pinned?: number;
  /** `X-Eas-Version` as sent. */
  readonly pinnedText?: string;
  /** A read of an async service's results (`GET .../results...`). */
  readonly readsResults?: boolean;
}

const PROXY: AdmissionOutcome = { kind: "proxy" };
const RESULTS: AdmissionOutcome = { kind: "results" };
const HOLD: AdmissionOutcome = { kind: "hold" };

const kAuthMemo = Symbol("eas.authMemo");
type AuthCachingSocket = Socket & { [kAuthMemo]?: { digest: Buffer; header: string } };

/**
 * Admission: what a request to a known service (or group) must pass before it is sent or queued, the same
 * for plain requests and upgrades (WebSocket), so both get the same answers. A new kind of answer at the
 * door is a new outcome here.
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
   * Checks, in this order: the token (401), the declared body size (413), the pinned version (400 for a value
   * that is not a version, 404 for a version the service never had, 503 when it has no Ready instance) or a
   * Ready instance (503), the rate limit (429, taking a token when it admits). `contentLength` is -1 when the
   * request declares none.
   *
   * On an async service (its route has `async`) the request is queued instead (`enqueue`): its body must fit
   * the queue's limit and it needs no Ready instance, but the service must not be stopped (503); a read of its
   * results needs the token alone. A service that scales from zero and has no instance yet holds an unpinned
   * request (`hold`, `cold-start.ts`).
   */
  check<W>(
    route: ServiceRoute<W>,
    socket: Socket,
    authorization: string | undefined,
    contentLength: number,
    now: number,
    request: AdmissionRequest = {},
  ): AdmissionOutcome {
    const unauthorized = this.#token(route.tokenDigest, socket, authorization);
    if (unauthorized) return reject(unauthorized);
    const queue = route.entry.async;
    if (queue && request.readsResults) return RESULTS;
    const maxBodyBytes = queue ? Math.min(queue.maxPayloadBytes, this.#maxBodyBytes) : this.#maxBodyBytes;
    const tooLarge = this.#bodySize(contentLength, maxBodyBytes);
    if (tooLarge) return reject(tooLarge);
    if (queue) {
      const refused = route.entry.state === "stopped" ? this.#unavailable(route) : this.#rateLimit(route, now);
      return refused ? reject(refused) : { kind: "enqueue", maxBodyBytes };
    }
    const pinned = request.pinned ?? 0;
    if (pinned === 0 && route.holdsRequests) return HOLD;
    const refused =
      (pinned === 0 ? this.#routable(route) : this.#pinned(route, pinned, request.pinnedText ?? "")) ?? this.#rateLimit(route, now);
    return refused ? reject(refused) : PROXY;
  }

  /**
   * Checks a request to a service group: the group's token (401), the body size (413), no `X-Eas-Version`
   * (400: a version belongs to one service). The member, once drawn, passes {@link checkMember}.
   */
  checkGroup(
    group: GroupRoute,
    socket: Socket,
    authorization: string | undefined,
    contentLength: number,
    pinnedText: string | undefined,
  ): Rejection | undefined {
    const refused = this.#token(group.tokenDigest, socket, authorization) ?? this.#bodySize(contentLength, this.#maxBodyBytes);
    if (refused) return refused;
    if (pinnedText !== undefined) {
      return {
        code: GatewayErrorCode.BadRequest,
        message: `X-Eas-Version pins a version of one service; ${group.name} is a service group (call /api/predict/<member> to pin)`,
        closeConnection: false,
      };
    }
    return undefined;
  }

  /** The member drawn for a group's request: its rate limit (429). */
  checkMember<W>(route: ServiceRoute<W>, now: number): Rejection | undefined {
    return this.#rateLimit(route, now);
  }

  /** The answer for a group none of whose members can take a request. */
  groupUnavailable(group: GroupRoute): Rejection {
    return {
      code: GatewayErrorCode.ServiceUnavailable,
      message: `service group ${group.name} has no member with a ready instance (members: ${group.entry.members.map((m) => m.service).join(", ") || "none"})`,
      closeConnection: false,
      headers: ["retry-after", this.#retryAfter],
    };
  }

  #token(digest: Buffer, socket: Socket, authorization: string | undefined): Rejection | undefined {
    if (this.#authorized(socket as AuthCachingSocket, authorization, digest)) return undefined;
    return {
      code: GatewayErrorCode.Unauthorized,
      message: "missing or invalid token in the Authorization header",
      closeConnection: false,
    };
  }

  #bodySize(contentLength: number, maxBodyBytes: number): Rejection | undefined {
    if (contentLength <= maxBodyBytes) return undefined;
    return {
      code: GatewayErrorCode.PayloadTooLarge,
      message: `request body of ${contentLength} bytes exceeds ${maxBodyBytes}`,
      closeConnection: true,
    };
  }

  #routable<W>(route: ServiceRoute<W>): Rejection | undefined {
    return route.routable ? undefined : this.#unavailable(route);
  }

  #unavailable<W>(route: ServiceRoute<W>): Rejection {
    return {
      code: GatewayErrorCode.ServiceUnavailable,
      message: `service ${route.name} has no ready instance (${unavailableReason(route.entry)})`,
      closeConnection: false,
      headers: ["retry-after", this.#retryAfter],
    };
  }

  #pinned<W>(route: ServiceRoute<W>, pinned: number, pinnedText: string): Rejection | undefined {
    if (pinned < 0) {
      return {
        code: GatewayErrorCode.BadRequest,
        message: `X-Eas-Version must be a version number (1, 2, ...), not ${JSON.stringify(pinnedText.slice(0, 32))}`,
        closeConnection: false,
      };
    }
    switch (route.pinnedVersionState(pinned)) {
      case "ready":
        return undefined;
      case "unknown":
        return {
          code: GatewayErrorCode.VersionNotFound,
          message: `service ${route.name} has no version ${pinned} (latest is ${route.entry.latestVersion})`,
          closeConnection: false,
        };
      case "not-ready":
        if (route.entry.state === "stopped") return this.#unavailable(route);
        return {
          code: GatewayErrorCode.VersionUnavailable,
          message: `service ${route.name} version ${pinned} has no ready instance`,
          closeConnection: false,
          headers: ["retry-after", this.#retryAfter],
        };
    }
  }

  #rateLimit<W>(route: ServiceRoute<W>, now: number): Rejection | undefined {
    const bucket = route.bucket;
    if (bucket && !bucket.tryTake(now)) {
      return {
        code: GatewayErrorCode.RateLimited,
        message: `service ${route.name} is limited to ${route.entry.rateLimit} requests/s`,
        closeConnection: false,
        headers: ["retry-after", String(bucket.retryAfterSeconds())],
      };
    }
    return undefined;
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

import { Pool, type Dispatcher } from "undici";

/** How a request ended: answered with a status, or not answered (timed out, or the connection failed). */
export type RequestEnd = { kind: "answer"; statusCode: number; bytesIn: number } | { kind: "timeout" } | { kind: "connection-error" };

export interface HttpTargetOptions {
  /** Requests go to these URLs in turn. */
  readonly urls: readonly string[];
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  /** No answer within this long (headers, or a pause in the body) ends a request as a timeout. */
  readonly timeoutMs: number;
  /** Request bodies, used in turn; none for requests without a body. */
  readonly bodies: readonly Buffer[];
  /** Connections per URL's origin. */
  readonly connections: number;
}

interface Route {
  readonly pool: Pool;
  readonly path: string;
}

const TIMEOUT_CODES = new Set(["UND_ERR_HEADERS_TIMEOUT", "UND_ERR_BODY_TIMEOUT", "UND_ERR_CONNECT_TIMEOUT"]);

/** One request's undici dispatch handler: counts the answer's bytes and reports how it ended, once. */
class Exchange implements Dispatcher.DispatchHandler {
  #statusCode = 0;
  #bytesIn = 0;
  #ended = false;
  constructor(private readonly onEnd: (end: RequestEnd) => void) {}

  onConnect(): void {}

  onHeaders(statusCode: number): boolean {
    if (statusCode >= 200) this.#statusCode = statusCode;
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.#bytesIn += chunk.length;
    return true;
  }

  onComplete(): void {
    this.#end({ kind: "answer", statusCode: this.#statusCode, bytesIn: this.#bytesIn });
  }

  onError(error: Error): void {
    const code = (error as { code?: string }).code;
    this.#end(code && TIMEOUT_CODES.has(code) ? { kind: "timeout" } : { kind: "connection-error" });
  }

  #end(end: RequestEnd): void {
    if (this.#ended) return;
    this.#ended = true;
    this.onEnd(end);
  }
}

/**
 * Where a load worker sends: an undici connection pool per origin, the URLs and bodies taken in turn.
 * Requests go out through `dispatch` with a minimal handler (no response object, the body counted and
 * dropped), the cheapest way undici offers to send a request and hear how it ended.
 */
export class HttpTarget {
  readonly #routes: Route[];
  readonly #pools: Pool[];
  readonly #bodies: readonly Buffer[];
  readonly #method: Dispatcher.HttpMethod;
  readonly #headers: Record<string, string>;
  #nextRoute = 0;
  #nextBody = 0;

  constructor(options: HttpTargetOptions) {
    if (options.urls.length === 0) throw new Error("a target needs at least one URL");
    const pools = new Map<string, Pool>();
    this.#routes = options.urls.map((text) => {
      const url = new URL(text);
      let pool = pools.get(url.origin);
      if (!pool) {
        pool = new Pool(url.origin, {
          connections: Math.max(1, options.connections),
          pipelining: 1,
          headersTimeout: options.timeoutMs,
          bodyTimeout: options.timeoutMs,
          connectTimeout: options.timeoutMs,
        });
        pools.set(url.origin, pool);
      }
      return { pool, path: `${url.pathname}${url.search}` };
    });
    this.#pools = [...pools.values()];
    this.#bodies = options.bodies;
    this.#method = options.method.toUpperCase() as Dispatcher.HttpMethod;
    this.#headers = { ...options.headers };
  }

  /** Sends one request; `onEnd` is called once, when it has ended. */
  send(onEnd: (end: RequestEnd) => void): void {
    const route = this.#routes[this.#nextRoute]!;
    this.#nextRoute = (this.#nextRoute + 1) % this.#routes.length;
    let body: Buffer | undefined;
    if (this.#bodies.length > 0) {
      body = this.#bodies[this.#nextBody]!;
      this.#nextBody = (this.#nextBody + 1) % this.#bodies.length;
    }
    route.pool.dispatch({ path: route.path, method: this.#method, headers: this.#headers, body }, new Exchange(onEnd));
  }

  /** Lets the requests in flight end, then closes the connections. */
  async close(): Promise<void> {
    await Promise.all(this.#pools.map((pool) => pool.close()));
  }

  /** Abandons the requests in flight and closes the connections now. */
  async destroy(): Promise<void> {
    await Promise.all(this.#pools.map((pool) => pool.destroy()));
  }
}

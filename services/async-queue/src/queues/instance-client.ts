import { Pool } from "undici";
import type { AttemptOutcome } from "../domain/attempts.js";

/** A queued request as an instance receives it: over its ordinary HTTP endpoint, like a synchronous call. */
export interface InstanceRequest {
  readonly method: string;
  /** "/" or "/sub/path?query". */
  readonly path: string;
  readonly headers: readonly [string, string][];
  readonly body: Uint8Array;
}

/** An attempt's answer, when the instance gave one. */
export interface InstanceAnswer {
  readonly status: number;
  readonly headers: [string, string][];
  readonly body: Buffer;
}

const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "proxy-connection",
  "host",
  "content-length",
]);

/**
 * One instance's HTTP endpoint: a keep-alive pool with as many connections as the instance runs requests at
 * once. An attempt is bounded by `timeoutMs` and by `signal` (the instance left); its answer is read whole, up
 * to `maxBodyBytes`.
 */
export class InstanceClient {
  readonly #pool: Pool;

  constructor(
    readonly endpoint: string,
    connections: number,
  ) {
    this.#pool = new Pool(`http://${endpoint}`, { connections: Math.max(1, connections), keepAliveTimeout: 30_000 });
  }

  async attempt(
    request: InstanceRequest,
    timeoutMs: number,
    signal: AbortSignal,
    maxBodyBytes: number,
  ): Promise<{ outcome: AttemptOutcome; answer?: InstanceAnswer }> {
    // One controller per attempt, aborted by the timer or by `signal` (AbortSignal.any is slow on Node 20).
    const attempt = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      attempt.abort();
    }, timeoutMs);
    const left = () => attempt.abort(signal.reason);
    signal.addEventListener("abort", left, { once: true });
    const headers: string[] = [];
    for (const [name, value] of request.headers) if (!HOP_BY_HOP.has(name.toLowerCase())) headers.push(name, value);
    try {
      const response = await this.#pool.request({
        path: request.path,
        method: request.method as "POST",
        headers,
        body: request.method === "GET" || request.method === "HEAD" ? null : Buffer.from(request.body),
        signal: attempt.signal,
        headersTimeout: 0,
        bodyTimeout: 0,
      });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > maxBodyBytes) {
          response.body.destroy();
          return { outcome: { kind: "unstorable", reason: `the answer is larger than the ${maxBodyBytes} bytes a result may hold` } };
        }
        chunks.push(chunk);
      }
      const answerHeaders: [string, string][] = [];
      for (const [name, value] of Object.entries(response.headers)) {
        if (value === undefined || HOP_BY_HOP.has(name)) continue;
        for (const one of Array.isArray(value) ? value : [value]) answerHeaders.push([name, one]);
      }
      return {
        outcome: { kind: "answered", status: response.statusCode },
        answer: { status: response.statusCode, headers: answerHeaders, body: Buffer.concat(chunks, size) },
      };
    } catch (error) {
      if (timedOut) return { outcome: { kind: "failed", reason: `no answer from ${this.endpoint} within ${timeoutMs} ms` } };
      if (signal.aborted) return { outcome: { kind: "failed", reason: String(signal.reason ?? "the instance left") } };
      return { outcome: { kind: "failed", reason: `${this.endpoint}: ${describe(error)}` } };
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", left);
    }
  }

  close(): Promise<void> {
    return this.#pool.close();
  }

  /** Cuts every connection at once. */
  destroy(): Promise<void> {
    return this.#pool.destroy();
  }
}

function describe(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === "string" ? `${code} ${error.message}` : error.message;
}

import type { Server } from "node:http";
import type { Logger } from "./log.js";

/** The address a processor's HTTP server is bound to. */
export interface BoundAddress {
  readonly port: number;
  readonly host: string;
}

/**
 * Binds `server` to `port` on `host` and resolves with the bound address; rejects with the
 * listen error (for example EADDRINUSE) instead of letting it escape as an 'error' event.
 * `label` names the processor in the error thrown when the server has no TCP address.
 */
export async function listenOn(server: Server, port: number, host: string, label: string): Promise<BoundAddress> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error(`${label} server has no TCP address`);
  return { port: address.port, host: address.address };
}

/** How {@link drainHttpServer} gives up on in-flight work. */
export interface DrainOptions {
  /** How long to wait for in-flight requests before cutting every connection. */
  readonly timeoutMs: number;
  /** Where the cut is logged. */
  readonly logger: Logger;
  /** Called when the timeout cuts connections, to cut what the HTTP server does not own (upgraded sockets). */
  readonly onTimeout?: () => void;
}

/**
 * Stops `server` accepting connections and resolves once in-flight requests have finished,
 * or once `timeoutMs` has passed and every connection was cut. Upgraded connections are the
 * caller's to close; the server waits for them too.
 */
export async function drainHttpServer(server: Server, options: DrainOptions): Promise<void> {
  const drained = new Promise<void>((resolve) => server.close(() => resolve()));
  // Keep-alive connections turn idle as their in-flight responses finish; sweep them
  // until the server has drained rather than hooking every response on the hot path.
  server.closeIdleConnections();
  const sweep = setInterval(() => server.closeIdleConnections(), 50);
  sweep.unref();
  const cutoff = setTimeout(() => {
    options.logger("warn", "drain timeout, closing remaining connections", { timeoutMs: options.timeoutMs });
    server.closeAllConnections();
    options.onTimeout?.();
  }, options.timeoutMs);
  cutoff.unref();
  try {
    await drained;
  } finally {
    clearTimeout(cutoff);
    clearInterval(sweep);
  }
}

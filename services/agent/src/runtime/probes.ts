import { request } from "node:http";
import { connect } from "node:net";
import type { ProbeOutcome } from "./probe-state.js";
import type { ProbeConfig } from "./types.js";

const ABORTED: ProbeOutcome = { ok: false, detail: "aborted" };

/**
 * Runs one probe against `host` (loopback by default). Never throws: every failure,
 * including a timeout or an abort, is a failed outcome with a detail.
 *
 * `signal` gets one abort listener per probe, removed when the probe ends. It is not handed to
 * `net.connect` or `http.request`: on Node 20 a socket given a signal leaves its listener on the
 * signal after it closes, and a run's probes share one signal (a probe every 100 ms while starting),
 * which grew without bound and logged `MaxListenersExceededWarning` after the eleventh probe.
 */
export function runProbe(config: ProbeConfig, options: { host?: string; signal?: AbortSignal } = {}): Promise<ProbeOutcome> {
  const host = options.host ?? "127.0.0.1";
  const signal = options.signal;
  if (signal?.aborted) return Promise.resolve(ABORTED);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: ProbeOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      // Events arrive on later ticks, never before `connection` is assigned.
      connection.destroy();
      resolve(outcome);
    };
    const onAbort = (): void => finish(ABORTED);
    const timer = setTimeout(() => finish({ ok: false, detail: `timed out after ${config.timeoutMs} ms` }), config.timeoutMs);
    signal?.addEventListener("abort", onAbort, { once: true });
    const connection = config.kind === "http" ? httpProbe(config, host, finish) : tcpProbe(config, host, finish);
  });
}

function httpProbe(config: ProbeConfig, host: string, finish: (outcome: ProbeOutcome) => void): { destroy(): void } {
  // A fresh connection per probe (agent: false): a pooled socket could outlive the process it probed.
  const req = request({ host, port: config.port, path: config.path || "/", method: "GET", agent: false });
  req.on("response", (res) => {
    res.resume();
    const status = res.statusCode ?? 0;
    finish(status >= 200 && status < 400 ? { ok: true } : { ok: false, answered: true, detail: `HTTP ${status} from GET ${config.path}` });
  });
  req.on("error", (error) => finish({ ok: false, detail: describe(error) }));
  req.end();
  return req;
}

function tcpProbe(config: ProbeConfig, host: string, finish: (outcome: ProbeOutcome) => void): { destroy(): void } {
  const socket = connect({ host, port: config.port });
  socket.on("connect", () => finish({ ok: true }));
  socket.on("error", (error) => finish({ ok: false, detail: describe(error) }));
  return socket;
}

function describe(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  // Node's socket errors already name their code ("connect ECONNREFUSED 127.0.0.1:8080"); others may not.
  return code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
}

import { request } from "node:http";
import { connect } from "node:net";
import type { ProbeOutcome } from "./probe-state.js";
import type { ProbeConfig } from "./types.js";

/**
 * Runs one probe against `host` (loopback by default). Never throws: every failure,
 * including a timeout or an abort, is a failed outcome with a detail.
 */
export function runProbe(config: ProbeConfig, options: { host?: string; signal?: AbortSignal } = {}): Promise<ProbeOutcome> {
  const host = options.host ?? "127.0.0.1";
  return config.kind === "http" ? httpProbe(config, host, options.signal) : tcpProbe(config, host, options.signal);
}

function httpProbe(config: ProbeConfig, host: string, signal: AbortSignal | undefined): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: ProbeOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      resolve(outcome);
    };
    // A fresh connection per probe (agent: false): a pooled socket could outlive the process it probed.
    const req = request({ host, port: config.port, path: config.path || "/", method: "GET", agent: false, signal });
    const timer = setTimeout(() => finish({ ok: false, detail: `timed out after ${config.timeoutMs} ms` }), config.timeoutMs);
    req.on("response", (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      finish(
        status >= 200 && status < 400 ? { ok: true } : { ok: false, answered: true, detail: `HTTP ${status} from GET ${config.path}` },
      );
    });
    req.on("error", (error) => finish({ ok: false, detail: describe(error) }));
    req.end();
  });
}

function tcpProbe(config: ProbeConfig, host: string, signal: AbortSignal | undefined): Promise<ProbeOutcome> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (outcome: ProbeOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    const socket = connect({ host, port: config.port, signal });
    const timer = setTimeout(() => finish({ ok: false, detail: `timed out after ${config.timeoutMs} ms` }), config.timeoutMs);
    socket.on("connect", () => finish({ ok: true }));
    socket.on("error", (error) => finish({ ok: false, detail: describe(error) }));
  });
}

function describe(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ? `${code}: ${error.message}` : error.message;
}

import assert from "node:assert/strict";
import { getEventListeners } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { freePort } from "@eas/testing";
import { runProbe } from "./probes.js";
import type { ProbeConfig } from "./types.js";

function probe(kind: "http" | "tcp", port: number, path = "/", timeoutMs = 1_000): ProbeConfig {
  return { kind, path, port, initialDelayMs: 0, periodMs: 100, timeoutMs, failureThreshold: 1 };
}

describe("runProbe against real sockets", () => {
  let server: Server;
  let open: number;
  let closed: number;
  /** Accepts connections and never answers: every HTTP probe to it times out. */
  let silent: Server;
  let silentPort: number;

  before(async () => {
    server = createServer((req, res) => {
      res.writeHead(req.url === "/ready" ? 200 : 503);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    open = (server.address() as AddressInfo).port;
    silent = createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    silentPort = (silent.address() as AddressInfo).port;
    closed = await freePort();
  });
  after(async () => {
    server.closeAllConnections();
    silent.closeAllConnections();
    await Promise.all([new Promise((resolve) => server.close(resolve)), new Promise((resolve) => silent.close(resolve))]);
  });

  it("reports what it saw, for each kind", async () => {
    assert.deepEqual(await runProbe(probe("http", open, "/ready")), { ok: true });
    assert.deepEqual(await runProbe(probe("http", open, "/other")), { ok: false, answered: true, detail: "HTTP 503 from GET /other" });
    assert.deepEqual(await runProbe(probe("tcp", open)), { ok: true });
    assert.match((await runProbe(probe("tcp", closed))).detail ?? "", /ECONNREFUSED/);
    assert.deepEqual(await runProbe(probe("http", silentPort, "/", 50)), { ok: false, detail: "timed out after 50 ms" });
  });

  it("leaves no abort listener behind on a signal that many probes share", async () => {
    // A run's probes share its signal: one probe every 100 ms while the process starts, for as long as it runs.
    const controller = new AbortController();
    const listeners = (): number => getEventListeners(controller.signal, "abort").length;
    const cases = [
      probe("tcp", open),
      probe("tcp", closed),
      probe("http", open, "/ready"),
      probe("http", open, "/other"),
      probe("http", closed),
      probe("http", silentPort, "/", 20),
    ];
    const counts: number[] = [];
    for (let round = 0; round < 15; round++) {
      for (const config of cases) {
        await runProbe(config, { signal: controller.signal });
        counts.push(listeners());
      }
    }
    assert.deepEqual(new Set(counts), new Set([0]), `listeners after each probe: ${counts.join(",")}`);
  });

  it("ends a probe in flight when its signal aborts, and removes its listener", async () => {
    const controller = new AbortController();
    const pending = runProbe(probe("http", silentPort, "/", 10_000), { signal: controller.signal });
    assert.equal(getEventListeners(controller.signal, "abort").length, 1);
    controller.abort();
    assert.deepEqual(await pending, { ok: false, detail: "aborted" });
    assert.equal(getEventListeners(controller.signal, "abort").length, 0);
    assert.deepEqual(await runProbe(probe("tcp", open), { signal: controller.signal }), { ok: false, detail: "aborted" });
  });
});

/*
 * Coordinated omission against a real HTTP backend: the echo processor freezes once for 1 s during the
 * test. The open loop must show it in its p99 and max (the requests due during the stall waited for it,
 * as wrk2 reports them); the closed loop, in the same conditions, shows it in its max only.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LatencyCounts } from "@eas/metrics";
import { createEchoServer, type EchoServer } from "@eas/processor-echo";
import type { StressWorkerControl, StressWorkerReport } from "@eas/proto";
import { startLoadWorker, type LoadWorker } from "./index.js";

const STALL_MS = 1_000;
const LATENCY_MS = 5;
const LOAD_MS = 6_000;

interface Run {
  reports: StressWorkerReport[];
  latency: LatencyCounts;
  requests: number;
}

async function runAgainstStallingEcho(load: { closedLoop: boolean; rate: number; concurrency: number }): Promise<Run> {
  const echo: EchoServer = createEchoServer({ config: { latencyMs: LATENCY_MS, stallAfterMs: 2_000, stallMs: STALL_MS } });
  const { port } = await echo.listen(0);
  const reports: StressWorkerReport[] = [];
  let deliver: (control: StressWorkerControl) => void = () => undefined;
  const worker: LoadWorker = startLoadWorker({
    taskId: "co",
    workerId: "w1",
    transport: {
      onControl(handler) {
        deliver = handler;
        return () => undefined;
      },
      report: (report) => reports.push(report),
      loadData: () => Promise.resolve(new Uint8Array(0)),
    },
  });
  const fromMs = Math.ceil((Date.now() + 300) / 1000) * 1000;
  const control: StressWorkerControl = {
    taskId: "co",
    sentAtMs: Date.now(),
    stop: false,
    endAtMs: fromMs + LOAD_MS,
    target: {
      urls: [`http://127.0.0.1:${port}/predict`],
      method: "POST",
      headers: {},
      timeoutMs: 5_000,
      dataUrl: "",
      binary: false,
      multiLine: false,
      connections: load.closedLoop ? load.concurrency : 20,
    },
    workerIds: ["w1"],
    load: { phase: 1, fromMs, rate: load.rate, closedLoop: load.closedLoop, concurrency: load.concurrency },
  };
  deliver(control);
  const keepAlive = setInterval(() => deliver({ ...control, sentAtMs: Date.now() }), 500);
  try {
    while (Date.now() < fromMs + LOAD_MS + 1_500) await new Promise((resolve) => setTimeout(resolve, 200));
  } finally {
    clearInterval(keepAlive);
    await worker.close();
    await echo.close();
  }
  const latency = new LatencyCounts();
  for (const report of reports) latency.addEncoded(report.latencyHistogramUs);
  return { reports, latency, requests: reports.reduce((sum, r) => sum + r.completed, 0) };
}

describe("coordinated omission", { timeout: 60_000 }, () => {
  let open: Run;
  let closed: Run;

  it("open loop: the requests due during a 1 s stall carry it; p99 and max reflect it", async () => {
    open = await runAgainstStallingEcho({ closedLoop: false, rate: 200, concurrency: 0 });
    const p99Ms = open.latency.valueAtPercentile(99) / 1000;
    const maxMs = open.latency.max / 1000;
    const p50Ms = open.latency.valueAtPercentile(50) / 1000;
    // 1,200 requests due, about 200 of them during the stall, waiting from ~1 s down to ~0: the top 1% waited ~900 ms or more.
    assert.ok(Math.abs(open.requests - 1_200) <= 12, `requests ${open.requests}`);
    assert.ok(p99Ms > 0.8 * STALL_MS, `open-loop p99 ${p99Ms} ms should reflect the ${STALL_MS} ms stall`);
    assert.ok(maxMs >= 0.9 * STALL_MS && maxMs < 1.5 * STALL_MS, `open-loop max ${maxMs} ms`);
    assert.ok(p50Ms < LATENCY_MS + 20, `open-loop p50 ${p50Ms} ms stays the echo latency`);
    assert.ok(open.reports.every((r) => !r.closedLoop));
  });

  it("closed loop in the same conditions: the stall shows in the max only, and is labelled closed loop", async () => {
    closed = await runAgainstStallingEcho({ closedLoop: true, rate: 0, concurrency: 2 });
    const p99Ms = closed.latency.valueAtPercentile(99) / 1000;
    const maxMs = closed.latency.max / 1000;
    assert.ok(maxMs >= 0.9 * STALL_MS, `closed-loop max ${maxMs} ms still sees the stall`);
    assert.ok(p99Ms < 100, `closed-loop p99 ${p99Ms} ms hides the stall (only its 2 requests in flight waited)`);
    assert.ok(closed.reports.some((r) => r.closedLoop));
    const openP99 = open.latency.valueAtPercentile(99) / 1000;
    assert.ok(openP99 > 10 * p99Ms, `open-loop p99 ${openP99} ms vs closed-loop ${p99Ms} ms`);
  });
});

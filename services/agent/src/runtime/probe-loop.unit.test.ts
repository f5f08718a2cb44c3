import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { probeFailureReason, runProbeLoop, STARTUP_PROBE_INTERVAL_MS, type ProbeObservation } from "./probe-loop.js";
import type { ProbeKind, ProbeOutcome } from "./probe-state.js";
import type { ProbeConfig } from "./types.js";

const CONFIG: ProbeConfig = {
  kind: "http",
  path: "/healthz",
  port: 1,
  initialDelayMs: 0,
  periodMs: 1,
  timeoutMs: 1_000,
  failureThreshold: 2,
};

/** Runs a loop of `kind` over scripted outcomes ("+" pass, "-" fail) until the script ends or the observer stops it. */
async function loop(
  kind: ProbeKind,
  script: string,
  config: Partial<ProbeConfig> = {},
): Promise<{ observations: ProbeObservation[]; probes: number; stopped: boolean }> {
  const controller = new AbortController();
  const observations: ProbeObservation[] = [];
  let probes = 0;
  let stopped = false;
  const probe = async (): Promise<ProbeOutcome> => {
    const symbol = script[probes++];
    if (symbol === undefined) controller.abort();
    return symbol === "+" ? { ok: true } : { ok: false, answered: true, detail: `HTTP 500 from GET /healthz` };
  };
  await runProbeLoop(
    kind,
    { ...CONFIG, ...config },
    {
      host: "127.0.0.1",
      signal: controller.signal,
      probe,
      onObservation: (observation) => {
        observations.push(observation);
        if (observation.transition !== "failed" || observation.kind !== "liveness") return undefined;
        stopped = true;
        return "stop";
      },
    },
  );
  return { observations, probes, stopped };
}

describe("probe loop", () => {
  it("given a liveness probe, when it fails threshold times in a row, then it reports a failure that names liveness and stops", async () => {
    const { observations, probes, stopped } = await loop("liveness", "+--+++");
    assert.equal(stopped, true);
    assert.equal(probes, 3);
    const failed = observations.at(-1)!;
    assert.equal(failed.kind, "liveness");
    assert.equal(failed.transition, "failed");
    assert.equal(probeFailureReason(failed.kind, failed.state), "liveness probe failed 2 times: HTTP 500 from GET /healthz");
  });

  it("given a readiness probe, when it passes, fails and passes again, then it reports each transition and keeps probing", async () => {
    const { observations, probes, stopped } = await loop("readiness", "-+--+");
    assert.equal(stopped, false);
    assert.equal(probes, 6);
    assert.deepEqual(
      observations.map((o) => [o.kind, o.transition]),
      [
        ["readiness", undefined],
        ["readiness", "passed"],
        ["readiness", undefined],
        ["readiness", "failed"],
        ["readiness", "passed"],
      ],
    );
    const failed = observations[3]!;
    assert.equal(probeFailureReason(failed.kind, failed.state), "readiness probe failed 2 times: HTTP 500 from GET /healthz");
  });

  it("probes quickly until a readiness probe first passes, then at its period", async () => {
    const periodMs = STARTUP_PROBE_INTERVAL_MS * 6;
    const times: number[] = [];
    const controller = new AbortController();
    const script = "--+-";
    await runProbeLoop(
      "readiness",
      { ...CONFIG, periodMs },
      {
        host: "127.0.0.1",
        signal: controller.signal,
        probe: async () => {
          times.push(performance.now());
          const symbol = script[times.length - 1];
          if (symbol === undefined) controller.abort();
          return { ok: symbol === "+" };
        },
        onObservation: () => undefined,
      },
    );
    const gaps = times.slice(1).map((at, index) => at - times[index]!);
    // Two startup gaps, then the period (timers may fire a little late, never early).
    assert.ok(gaps[0]! < periodMs && gaps[1]! < periodMs, `startup gaps ${gaps.join(", ")}`);
    assert.ok(gaps[2]! >= periodMs - 1 && gaps[3]! >= periodMs - 1, `gaps after Ready ${gaps.join(", ")}`);
  });

  it("never probes once its signal has aborted", async () => {
    const controller = new AbortController();
    controller.abort();
    let probes = 0;
    await runProbeLoop("liveness", CONFIG, {
      host: "127.0.0.1",
      signal: controller.signal,
      probe: async () => {
        probes++;
        return { ok: true };
      },
      onObservation: () => undefined,
    });
    assert.equal(probes, 0);
  });
});

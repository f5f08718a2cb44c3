import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decideScale, freshMemory, type ScaleInputs, type ScalerMemory } from "./decide-scale.js";
import { LoadHistory } from "./load-history.js";
import { POLICY_DEFAULTS, type ResolvedPolicy } from "./policy.js";

const T0 = 1_800_000_000_000;
const s = (seconds: number) => T0 + seconds * 1000;

/** Load per second over [from, to) seconds after T0. */
interface Segment {
  from: number;
  to: number;
  qps?: number;
  concurrency?: number;
  cpu?: number;
  instances?: number;
}

function history(segments: Segment[]): LoadHistory {
  const h = new LoadHistory(3_600);
  for (const seg of segments) {
    for (let t = seg.from; t < seg.to; t++) {
      if (seg.qps !== undefined || seg.concurrency !== undefined) h.addTraffic(s(t), seg.qps ?? 0, seg.concurrency ?? 0);
      for (let i = 0; i < (seg.instances ?? 0); i++) h.addCpu(s(t) + 100, (seg.cpu ?? 0) / (seg.instances ?? 1));
    }
  }
  return h;
}

type Given = Partial<Omit<ScaleInputs, "policy">> & { policy?: Partial<ResolvedPolicy> };

function inputs(over: Given): ScaleInputs {
  return {
    history: new LoadHistory(60),
    current: 1,
    ready: 1,
    cpuCoresPerInstance: 1,
    cronFloor: 0,
    nowMs: s(120),
    observingSinceMs: T0,
    wokenAtMs: 0,
    ...over,
    policy: { ...POLICY_DEFAULTS, targetQps: 100, ...over.policy },
  };
}

describe("decideScale: one decision", () => {
  const rows: {
    name: string;
    given: Given;
    memory?: ScalerMemory;
    desired: number;
    mode?: string;
    reason?: RegExp;
  }[] = [
    {
      name: "qps 480 over 3 instances, target 100 -> 5",
      given: { current: 3, ready: 3, history: history([{ from: 0, to: 120, qps: 480 }]) },
      desired: 5,
      mode: "stable",
      reason: /^qps 480 over 3 instances, target 100 -> 5$/,
    },
    {
      name: "the issue's example: qps 480 over 2 instances is 2.4 times what they serve: panic",
      given: { current: 2, ready: 2, history: history([{ from: 0, to: 120, qps: 480 }]) },
      desired: 5,
      mode: "panic",
      reason: /^panic: qps 480 over 2 instances, target 100 -> 5$/,
    },
    {
      name: "within the 10% tolerance: no change",
      given: { current: 5, ready: 5, history: history([{ from: 0, to: 120, qps: 540 }]) },
      desired: 5,
    },
    {
      name: "just past the tolerance: one more",
      given: { current: 5, ready: 5, history: history([{ from: 0, to: 120, qps: 560 }]) },
      desired: 6,
    },
    {
      name: "the highest metric wins (cpu asks for more than qps)",
      given: {
        policy: { targetCpuPercent: 70 },
        current: 3,
        ready: 3,
        cpuCoresPerInstance: 0.5,
        history: history([{ from: 0, to: 120, qps: 150, cpu: 135, instances: 3 }]),
      },
      desired: 4,
      reason: /^cpu 90% on average over 3 instances, target 70% -> 4$/,
    },
    {
      name: "concurrency target",
      given: {
        policy: { targetQps: 0, targetConcurrency: 4 },
        current: 2,
        ready: 2,
        history: history([{ from: 0, to: 120, concurrency: 20 }]),
      },
      desired: 5,
    },
    {
      name: "never above max",
      given: { policy: { maxReplicas: 3 }, current: 2, ready: 2, history: history([{ from: 0, to: 120, qps: 900 }]) },
      desired: 3,
    },
    {
      name: "above max (a new policy): straight to max",
      given: { policy: { maxReplicas: 3 }, current: 7, ready: 7, history: history([{ from: 0, to: 120, qps: 900 }]) },
      desired: 3,
      mode: "bounds",
      reason: /above max 3/,
    },
    {
      name: "below min: straight to min, without waiting for a window",
      given: { policy: { minReplicas: 3 }, current: 1, ready: 1, nowMs: s(2) },
      desired: 3,
      mode: "bounds",
    },
    {
      name: "a cron floor above min holds the count up",
      given: { policy: { minReplicas: 1 }, cronFloor: 4, current: 2, ready: 2, history: history([{ from: 0, to: 120, qps: 10 }]) },
      desired: 4,
      reason: /cron floor 4/,
    },
    {
      name: "bounded step up: at most +4 or +100% per decision",
      given: { policy: { maxReplicas: 100 }, current: 2, ready: 2, history: history([{ from: 0, to: 120, qps: 5000 }]) },
      desired: 6,
      reason: /step limit \+4/,
    },
    {
      name: "bounded step up for a large count: +100%",
      given: { policy: { maxReplicas: 100 }, current: 10, ready: 10, history: history([{ from: 0, to: 120, qps: 9000 }]) },
      desired: 20,
    },
    {
      name: "bounded step down: at most half per decision",
      given: { current: 10, ready: 10, history: history([{ from: 0, to: 120, qps: 100 }]) },
      desired: 5,
      reason: /step limit -5/,
    },
    {
      name: "no scale-in before a whole window was observed (a restarted autoscaler)",
      given: { current: 4, ready: 4, nowMs: s(20), history: history([{ from: 0, to: 20, qps: 10 }]) },
      desired: 4,
    },
    {
      name: "scale-out on partial data is fine: a restarted autoscaler still answers load",
      given: { current: 1, ready: 1, nowMs: s(5), history: history([{ from: 0, to: 5, qps: 400 }]) },
      desired: 4,
    },
    {
      name: "min 0, idle for the grace period: to zero",
      given: {
        policy: { minReplicas: 0, scaleToZeroGraceSeconds: 60 },
        current: 2,
        ready: 2,
        history: history([{ from: 0, to: 50, qps: 30 }]),
      },
      desired: 0,
      mode: "to-zero",
      reason: /idle for 60s/,
    },
    {
      name: "min 0, idle but shorter than the grace period: keeps one",
      given: {
        policy: { minReplicas: 0, scaleToZeroGraceSeconds: 60 },
        current: 1,
        ready: 1,
        history: history([{ from: 0, to: 70, qps: 30 }]),
      },
      desired: 1,
    },
    {
      name: "min 0 with requests still queued: not idle",
      given: {
        policy: { minReplicas: 0, scaleToZeroGraceSeconds: 10 },
        current: 1,
        ready: 1,
        history: history([{ from: 115, to: 116, concurrency: 1 }]),
      },
      desired: 1,
    },
    {
      name: "at zero, a gateway holds a request: activation replicas",
      given: { policy: { minReplicas: 0, activationReplicas: 2 }, current: 0, ready: 0, wokenAtMs: s(119) + 500 },
      desired: 2,
      mode: "from-zero",
      reason: /a request is held/,
    },
    {
      name: "at zero with a burst waiting: the burst's size",
      given: {
        policy: { minReplicas: 0, targetQps: 0, targetConcurrency: 4 },
        current: 0,
        ready: 0,
        history: history([{ from: 119, to: 120, concurrency: 20 }]),
      },
      desired: 4,
      reason: /^concurrency 20 over 0 instances, target 4 -> 5 \(step limit \+4; now 4\)$/,
    },
    {
      name: "at zero and idle: stays at zero",
      given: { policy: { minReplicas: 0 }, current: 0, ready: 0 },
      desired: 0,
    },
    {
      name: "a 10x step within the panic window: panic, without waiting for the stable window",
      given: {
        current: 1,
        ready: 1,
        history: history([
          { from: 0, to: 118, qps: 20 },
          { from: 118, to: 120, qps: 400 },
        ]),
      },
      desired: 4,
      mode: "panic",
      reason: /^panic: qps 400 over 1 instance, target 100 -> 4$/,
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const decision = decideScale(inputs(row.given), row.memory ?? freshMemory());
      assert.equal(decision.desired, row.desired, decision.reason);
      if (row.mode) assert.equal(decision.mode, row.mode);
      if (row.reason) assert.match(decision.reason, row.reason);
      if (row.desired === (row.given.current ?? 1)) assert.equal(decision.reason, "");
    });
  }
});

/** Runs the controller once a second from `from` to `to` over a load, applying each decision at once. */
function simulate(
  segments: Segment[],
  options: { from: number; to: number; current: number; policy?: Partial<ResolvedPolicy>; observingFrom?: number },
): { at: number; from: number; to: number; reason: string }[] {
  const h = history(segments);
  let memory = freshMemory();
  let current = options.current;
  const changes: { at: number; from: number; to: number; reason: string }[] = [];
  for (let t = options.from; t <= options.to; t++) {
    const decision = decideScale(
      inputs({
        policy: options.policy ?? {},
        history: h,
        current,
        ready: current,
        nowMs: s(t),
        observingSinceMs: s(options.observingFrom ?? 0),
      }),
      memory,
    );
    memory = decision.memory;
    if (decision.desired !== current) {
      changes.push({ at: t, from: current, to: decision.desired, reason: decision.reason });
      current = decision.desired;
    }
  }
  return changes;
}

describe("decideScale: over time", () => {
  it("a steady load with noise around a boundary makes no change once settled", () => {
    // 445 req/s +-30: between 4 and 5 instances of 100; the tolerance and the ceiling keep the count.
    const segments: Segment[] = [];
    for (let t = 0; t < 400; t++) segments.push({ from: t, to: t + 1, qps: 445 + (((t * 7919) % 61) - 30) });
    const changes = simulate(segments, { from: 1, to: 400, current: 1 });
    assert.ok(changes.length >= 1, "it scales out first");
    const settledAt = changes.at(-1)!.at;
    assert.ok(settledAt < 60, `settled within a minute, last change at ${settledAt}s: ${JSON.stringify(changes)}`);
  });

  it("20 -> 400 req/s: the first instance is added within 2 s of the step, the target count within 4 s", () => {
    const changes = simulate(
      [
        { from: 0, to: 100, qps: 20 },
        { from: 100, to: 200, qps: 400 },
      ],
      { from: 1, to: 200, current: 1 },
    );
    assert.ok(changes[0]!.at <= 102, JSON.stringify(changes));
    assert.equal(changes[0]!.from, 1);
    const reached = changes.find((c) => c.to >= 4);
    assert.ok(reached && reached.at <= 104, JSON.stringify(changes));
    assert.ok(
      changes.every((c) => c.to > c.from),
      `no scale-in while the load stays: ${JSON.stringify(changes)}`,
    );
  });

  it("the load drops: scale-in waits for the stable and scale-down windows, then goes down in bounded steps", () => {
    const changes = simulate(
      [
        { from: 0, to: 100, qps: 400 },
        { from: 100, to: 300, qps: 20 },
      ],
      { from: 1, to: 300, current: 4 },
    );
    const downs = changes.filter((c) => c.to < c.from);
    assert.ok(downs.length >= 1, JSON.stringify(changes));
    assert.ok(
      downs[0]!.at >= 100 + POLICY_DEFAULTS.scaleDownStabilizationSeconds - 1,
      `not before the scale-down window: ${JSON.stringify(downs)}`,
    );
    assert.equal(changes.at(-1)!.to, 1);
    for (const down of downs) assert.ok(down.from - down.to <= Math.max(1, Math.floor(down.from / 2)), JSON.stringify(down));
  });

  it("a single-second spike after settling does not scale in and out (no oscillation)", () => {
    const changes = simulate(
      [
        { from: 0, to: 150, qps: 180 },
        { from: 150, to: 151, qps: 600 },
        { from: 151, to: 300, qps: 180 },
      ],
      { from: 1, to: 300, current: 2 },
    );
    // A spike may add instances (panic), but the count comes back at most once, never flapping.
    const directions = changes.map((c) => Math.sign(c.to - c.from));
    let flips = 0;
    for (let i = 1; i < directions.length; i++) if (directions[i] !== directions[i - 1]) flips++;
    assert.ok(flips <= 1, JSON.stringify(changes));
  });

  it("a scale-up stabilization window makes a scale-up wait until every recommendation of it agrees", () => {
    const changes = simulate(
      [
        { from: 0, to: 100, qps: 50 },
        { from: 100, to: 200, qps: 250 },
      ],
      { from: 1, to: 200, current: 1, policy: { scaleUpStabilizationSeconds: 10, panicThreshold: 100 } },
    );
    assert.ok(changes[0]!.at >= 110, JSON.stringify(changes));
  });

  it("scale to zero after the grace period, and back on the first request", () => {
    const h = history([
      { from: 0, to: 30, qps: 5 },
      { from: 200, to: 201, concurrency: 1 },
    ]);
    let memory = freshMemory();
    let current = 1;
    const changes: { at: number; to: number; mode: string }[] = [];
    for (let t = 1; t <= 202; t++) {
      const d = decideScale(
        inputs({ policy: { minReplicas: 0, scaleToZeroGraceSeconds: 60 }, history: h, current, ready: current, nowMs: s(t) }),
        memory,
      );
      memory = d.memory;
      if (d.desired !== current) {
        changes.push({ at: t, to: d.desired, mode: d.mode });
        current = d.desired;
      }
    }
    assert.deepEqual(changes, [
      { at: 90, to: 0, mode: "to-zero" },
      { at: 201, to: 1, mode: "from-zero" },
    ]);
  });
});

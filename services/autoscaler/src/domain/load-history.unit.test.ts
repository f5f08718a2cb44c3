import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { LoadHistory } from "./load-history.js";

const T0 = 1_800_000_000_000;
const s = (seconds: number) => T0 + seconds * 1000;

describe("LoadHistory", () => {
  const rows: { name: string; seconds: [number, number, number, number][]; window: number; qps: number; idle: boolean }[] = [
    // [second, answered, pending at its end, concurrency]
    {
      name: "steady answers",
      seconds: [
        [0, 100, 0, 2],
        [1, 100, 0, 2],
      ],
      window: 2,
      qps: 100,
      idle: false,
    },
    {
      name: "a saturated service: 100 answered while its queue grows by 300 a second is 400 arriving",
      seconds: [
        [0, 100, 300, 300],
        [1, 100, 600, 600],
      ],
      window: 2,
      qps: 400,
      idle: false,
    },
    {
      name: "a queue draining counts less than its answers",
      seconds: [
        [0, 100, 300, 300],
        [1, 400, 0, 10],
      ],
      window: 1,
      qps: 100,
      idle: false,
    },
    { name: "seconds without a sample are idle seconds", seconds: [[0, 60, 0, 1]], window: 6, qps: 10, idle: false },
    { name: "nothing at all", seconds: [], window: 5, qps: 0, idle: true },
    { name: "a request held at zero is not idle", seconds: [[1, 0, 1, 1]], window: 2, qps: 0.5, idle: false },
  ];
  for (const row of rows) {
    it(row.name, () => {
      const history = new LoadHistory(60);
      for (const [second, answered, pending, concurrency] of row.seconds) history.addTraffic(s(second), answered, concurrency, pending);
      const window = history.window(s(2), row.window);
      assert.equal(window.qps, row.qps);
      assert.equal(window.idle, row.idle);
    });
  }

  it("averages CPU over the seconds that had samples, and the backlog over those that reported one", () => {
    const history = new LoadHistory(60);
    history.addCpu(s(0) + 10, 40);
    history.addCpu(s(0) + 20, 60);
    history.setBacklog(s(1), 8);
    const window = history.window(s(3), 3);
    assert.equal(window.cpuPercent, 100);
    assert.equal(window.cpuInstances, 2);
    assert.equal(window.backlog, 8);
  });

  describe("decisionEndMs: where a decision's windows end", () => {
    const rows: { name: string; reported: number[]; at: number; endsAt: number }[] = [
      { name: "the last closed second reported: it ends there", reported: [0, 1], at: s(2) + 20, endsAt: s(2) },
      { name: "the last closed second not reported yet: one second earlier", reported: [0], at: s(2) + 20, endsAt: s(1) },
      { name: "nothing reported for two seconds: the gateways are idle, the clock's", reported: [0], at: s(3) + 20, endsAt: s(3) },
      { name: "nothing ever reported: the clock's", reported: [], at: s(2) + 20, endsAt: s(2) },
    ];
    for (const row of rows) {
      it(row.name, () => {
        const history = new LoadHistory(60);
        for (const second of row.reported) history.addTraffic(s(second), 100, 1);
        assert.equal(history.decisionEndMs(row.at), row.endsAt);
      });
    }

    it("so a decision just before a second's samples reads the same load as the one just after", () => {
      const history = new LoadHistory(60);
      history.addTraffic(s(0), 400, 4);
      history.addTraffic(s(1), 400, 4);
      const beforeSample = history.window(history.decisionEndMs(s(3) + 20), 2).qps;
      history.addTraffic(s(2), 400, 4);
      const afterSample = history.window(history.decisionEndMs(s(3) + 900), 2).qps;
      assert.deepEqual([beforeSample, afterSample], [400, 400]);
    });
  });

  it("forgets what is older than it keeps", () => {
    const history = new LoadHistory(10);
    history.addTraffic(s(0), 1, 0);
    history.addTraffic(s(20), 1, 0);
    history.prune(s(21));
    assert.equal(history.size, 1);
  });
});

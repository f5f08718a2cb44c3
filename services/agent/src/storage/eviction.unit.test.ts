import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { STALE_TEMPORARY_MS, cacheEntryOf, planEviction, type CacheEntry } from "./eviction.js";

const NOW = Date.parse("2025-06-01T12:00:00Z");
const MINUTE = 60_000;

/** An entry of `bytes` last used `minutesAgo` before NOW. */
function entry(path: string, bytes: number, minutesAgo: number): CacheEntry {
  return { path, bytes, lastUsedMs: NOW - minutesAgo * MINUTE };
}

describe("planEviction", () => {
  const cases: Array<{
    name: string;
    entries: CacheEntry[];
    inUse?: string[];
    maxBytes: number;
    evict: string[];
    remainingBytes: number;
  }> = [
    {
      name: "no limit (0): evicts nothing however large the cache",
      entries: [entry("objects/a", 500, 30), entry("objects/b", 500, 20)],
      maxBytes: 0,
      evict: [],
      remainingBytes: 1000,
    },
    {
      name: "a cache exactly at its budget: evicts nothing",
      entries: [entry("objects/a", 400, 30), entry("trees/b", 600, 20)],
      maxBytes: 1000,
      evict: [],
      remainingBytes: 1000,
    },
    {
      name: "over budget: the least recently used goes first, not the first listed or the largest",
      entries: [entry("objects/new", 900, 1), entry("objects/old", 100, 50), entry("objects/mid", 100, 10)],
      maxBytes: 1000,
      evict: ["objects/old"],
      remainingBytes: 1000,
    },
    {
      name: "keeps evicting in LRU order until the cache fits",
      entries: [entry("objects/a", 300, 40), entry("unpacked/b", 300, 30), entry("trees/c", 300, 20), entry("objects/d", 300, 10)],
      maxBytes: 600,
      evict: ["objects/a", "unpacked/b"],
      remainingBytes: 600,
    },
    {
      name: "never an entry in use, even when that leaves the cache over budget",
      entries: [entry("objects/a", 500, 40), entry("trees/b", 500, 30), entry("objects/c", 500, 20)],
      inUse: ["objects/a", "trees/b"],
      maxBytes: 600,
      evict: ["objects/c"],
      remainingBytes: 1000,
    },
    {
      name: "everything in use: evicts nothing and reports the overshoot",
      entries: [entry("objects/a", 500, 40), entry("objects/b", 500, 30)],
      inUse: ["objects/a", "objects/b"],
      maxBytes: 100,
      evict: [],
      remainingBytes: 1000,
    },
    {
      name: "a tmp/ entry younger than the stale-temporary age is being written: it stays",
      entries: [entry("tmp/x.part", 800, 60), entry("objects/a", 300, 5)],
      maxBytes: 500,
      evict: ["objects/a"],
      remainingBytes: 800,
    },
    {
      name: "a tmp/ leftover older than the stale-temporary age is evicted like any unused entry",
      entries: [entry("tmp/old.part", 800, STALE_TEMPORARY_MS / MINUTE + 1), entry("objects/a", 300, 5)],
      maxBytes: 500,
      evict: ["tmp/old.part"],
      remainingBytes: 300,
    },
    {
      name: "equally old entries: the path decides, whatever the listing order",
      entries: [entry("trees/b", 100, 10), entry("objects/z", 100, 10), entry("objects/a", 100, 10)],
      maxBytes: 200,
      evict: ["objects/a"],
      remainingBytes: 200,
    },
  ];

  for (const c of cases) {
    it(c.name, () => {
      const plan = planEviction({ entries: c.entries, inUse: new Set(c.inUse ?? []), maxBytes: c.maxBytes, nowMs: NOW });
      assert.deepEqual(
        plan.evict.map((e) => e.path),
        c.evict,
      );
      assert.equal(
        plan.totalBytes,
        c.entries.reduce((sum, e) => sum + e.bytes, 0),
      );
      assert.equal(plan.remainingBytes, c.remainingBytes);
    });
  }

  it("a tmp/ entry exactly at the stale age is still live, as the sweep sees it", () => {
    const plan = planEviction({
      entries: [{ path: "tmp/edge.part", bytes: 10, lastUsedMs: NOW - STALE_TEMPORARY_MS }],
      inUse: new Set(),
      maxBytes: 1,
      nowMs: NOW,
    });
    assert.deepEqual(plan.evict, []);
  });
});

describe("cacheEntryOf", () => {
  const cases: Array<[string, string | undefined]> = [
    ["objects/abc", "objects/abc"],
    ["unpacked/abc", "unpacked/abc"],
    ["unpacked/abc/variables/v.data", "unpacked/abc"],
    ["trees/abc/lib/util.py", "trees/abc"],
    ["tmp/unpack-1/x", "tmp/unpack-1"],
    ["./objects//abc/", "objects/abc"],
    ["objects", undefined],
    ["", undefined],
    ["other/abc", undefined],
    ["objects/../trees/abc", undefined],
    ["../objects/abc", undefined],
  ];
  for (const [path, expected] of cases) {
    it(`${JSON.stringify(path)} -> ${expected ?? "not an entry"}`, () => {
      assert.equal(cacheEntryOf(path), expected);
    });
  }
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createKeyedMutex, createMutex } from "./mutex.js";

describe("createMutex", () => {
  it("runs sections one at a time, in call order", async () => {
    const mutex = createMutex();
    const log: string[] = [];
    let inside = 0;
    const section = (name: string, ms: number) =>
      mutex.run(async () => {
        inside += 1;
        assert.equal(inside, 1, "two sections overlapped");
        log.push(`start ${name}`);
        await sleep(ms);
        log.push(`end ${name}`);
        inside -= 1;
        return name;
      });
    const results = await Promise.all([section("a", 20), section("b", 1), section("c", 5)]);
    assert.deepEqual(results, ["a", "b", "c"]);
    assert.deepEqual(log, ["start a", "end a", "start b", "end b", "start c", "end c"]);
  });

  it("a failing section rejects its caller and does not block the next", async () => {
    const mutex = createMutex();
    await assert.rejects(
      mutex.run(async () => Promise.reject(new Error("boom"))),
      /boom/,
    );
    assert.equal(await mutex.run(async () => 42), 42);
  });
});

describe("createKeyedMutex", () => {
  it("serializes sections of one key and overlaps different keys", async () => {
    const mutex = createKeyedMutex();
    const inside = new Map<string, number>();
    let overlapAcrossKeys = false;
    const section = (key: string) =>
      mutex.run(key, async () => {
        inside.set(key, (inside.get(key) ?? 0) + 1);
        assert.equal(inside.get(key), 1, `two sections of ${key} overlapped`);
        if ([...inside.values()].filter((n) => n > 0).length > 1) overlapAcrossKeys = true;
        await sleep(5);
        inside.set(key, inside.get(key)! - 1);
        return key;
      });
    const results = await Promise.all(["a", "b", "a", "b", "a"].map(section));
    assert.deepEqual(results, ["a", "b", "a", "b", "a"]);
    assert.ok(overlapAcrossKeys, "different keys never ran side by side");
  });

  it("a failing section does not block its key, and idle keys are forgotten", async () => {
    const mutex = createKeyedMutex();
    await assert.rejects(
      mutex.run("a", async () => Promise.reject(new Error("boom"))),
      /boom/,
    );
    assert.equal(await mutex.run("a", async () => 7), 7);
    await sleep(0);
    assert.equal(mutex.activeKeys, 0);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { createMutex } from "./mutex.js";

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
    await assert.rejects(mutex.run(async () => Promise.reject(new Error("boom"))), /boom/);
    assert.equal(await mutex.run(async () => 42), 42);
  });
});

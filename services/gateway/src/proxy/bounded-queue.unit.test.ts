import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BoundedQueue } from "./bounded-queue.js";

describe("BoundedQueue", () => {
  it("is FIFO", () => {
    const queue = new BoundedQueue<number>(3);
    queue.push(1);
    queue.push(2);
    queue.push(3);
    assert.deepEqual([queue.shift(), queue.shift(), queue.shift(), queue.shift()], [1, 2, 3, undefined]);
  });

  it("refuses pushes beyond its capacity", () => {
    const queue = new BoundedQueue<string>(2);
    assert.ok(queue.push("a"));
    assert.ok(queue.push("b"));
    assert.equal(queue.isFull, true);
    assert.equal(queue.push("c"), undefined);
    assert.equal(queue.size, 2);
  });

  it("with capacity 0 refuses everything", () => {
    const queue = new BoundedQueue<string>(0);
    assert.equal(queue.push("a"), undefined);
  });

  it("removes from the head, the middle and the tail in O(1), once", () => {
    const queue = new BoundedQueue<number>(5);
    const nodes = [1, 2, 3, 4, 5].map((n) => queue.push(n)!);
    assert.equal(queue.remove(nodes[2]!), true);
    assert.equal(queue.remove(nodes[2]!), false);
    assert.equal(queue.remove(nodes[0]!), true);
    assert.equal(queue.remove(nodes[4]!), true);
    assert.equal(queue.size, 2);
    assert.deepEqual(queue.drain(), [2, 4]);
    assert.equal(queue.size, 0);
  });

  it("does not remove a node that was already shifted", () => {
    const queue = new BoundedQueue<number>(2);
    const node = queue.push(1)!;
    queue.push(2);
    assert.equal(queue.shift(), 1);
    assert.equal(queue.remove(node), false);
    assert.equal(queue.size, 1);
  });

  it("frees room as entries leave", () => {
    const queue = new BoundedQueue<number>(1);
    const node = queue.push(1)!;
    queue.remove(node);
    assert.ok(queue.push(2));
  });

  it("unshift puts a value first even when full", () => {
    const queue = new BoundedQueue<number>(1);
    queue.push(1);
    queue.unshift(0);
    assert.equal(queue.size, 2);
    assert.equal(queue.peek(), 0);
    assert.deepEqual(queue.drain(), [0, 1]);
  });

  it("keeps entries beyond a lowered capacity but admits no more", () => {
    const queue = new BoundedQueue<number>(3);
    queue.push(1);
    queue.push(2);
    queue.capacity = 1;
    assert.equal(queue.size, 2);
    assert.equal(queue.push(3), undefined);
  });
});

import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import type { EventStore, JsonObject, NewEvent, RecordedEvent, Subscription } from "../types.js";

/** What each group of contract cases gets from `eventStoreContract`. */
export interface ContractContext {
  /** Declares one case (skipped, with the reason, when the suite is). */
  it(title: string, body: () => Promise<void>): void;
  /** Runs `body` on a fresh fixture's store and cleans the fixture up afterwards. */
  withStore(body: (store: EventStore) => Promise<void>): Promise<void>;
  /** Upper bound for every wait on the store. */
  timeoutMs: number;
}

/** A category no other case or run uses, so cases can share a backend. */
export function newCategory(): string {
  return `c${randomBytes(5).toString("hex")}`;
}

export function streamOf(category: string): string {
  return `${category}-${randomBytes(6).toString("hex")}`;
}

export function newEvent(type: string, data: JsonObject = {}, extra: Partial<NewEvent> = {}): NewEvent {
  return { id: randomUUID(), type, data, ...extra };
}

export function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected the operation to fail");
}

export async function collectAll(iterable: AsyncIterable<RecordedEvent>): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for await (const event of iterable) events.push(event);
  return events;
}

/** Takes `count` events from a subscription, failing after `timeoutMs`. */
export async function collect(subscription: Subscription, count: number, timeoutMs: number): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  const taking = (async () => {
    for await (const event of subscription) {
      events.push(event);
      if (events.length >= count) return;
    }
  })();
  await withTimeout(taking, timeoutMs, `${count} events (got ${events.length})`, () => `${count} events (got ${events.length})`);
  return events;
}

export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string, describeLater?: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${describeLater?.() ?? what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export async function waitUntil(condition: () => boolean, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function assertStrictlyIncreasing(values: number[]): void {
  for (let i = 1; i < values.length; i++) {
    assert.ok(values[i]! > values[i - 1]!, `positions must increase strictly: ${values[i - 1]} then ${values[i]}`);
  }
}

export function assertContiguousRevisions(events: RecordedEvent[]): void {
  const next = new Map<string, number>();
  for (const event of events) {
    const expected = next.get(event.stream) ?? 0;
    assert.equal(event.revision, expected, `${event.stream}: revision ${event.revision} after ${expected - 1}`);
    next.set(event.stream, expected + 1);
  }
}

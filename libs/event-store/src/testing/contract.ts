import { describe, it as nodeIt } from "node:test";
import type { EventStore } from "../types.js";
import { appendCases } from "./append-cases.js";
import type { ContractContext } from "./contract-support.js";
import { eventCases } from "./event-cases.js";
import { readCases } from "./read-cases.js";
import { subscriptionCases } from "./subscription-cases.js";

/** What the contract needs from an adapter for one test case: a store, and a way to dispose of it. */
export interface ContractFixture {
  store: EventStore;
  /** Closes the store and removes whatever the case wrote where that is possible. */
  cleanup(): Promise<void>;
}

/** Options of the contract suite. */
export interface ContractOptions {
  /** Upper bound for every wait on the store (subscriptions, concurrent writers); default 20 s. */
  timeoutMs?: number;
  /** Passed to `describe`, e.g. `{ skip: "no server" }`. */
  skip?: string | boolean;
}

/**
 * The EventStore contract: one node:test suite that every adapter must pass.
 *
 * Each case asks `factory` for a fresh fixture and cleans it up afterwards. Cases do not assume an empty
 * log: they write to streams of a category unique to the case and read the log after the head position
 * they found, so adapters whose backend is shared between cases (KurrentDB) can run the suite too.
 * The cases live by feature: `append-cases.ts`, `read-cases.ts`, `subscription-cases.ts`, `event-cases.ts`.
 */
export function eventStoreContract(name: string, factory: () => Promise<ContractFixture>, options: ContractOptions = {}): void {
  const timeoutMs = options.timeoutMs ?? 20_000;
  // Skipping each case (not the suite) makes the runner count every skipped case, with the reason.
  const caseOptions = options.skip === undefined ? {} : { skip: options.skip };
  const it = (title: string, body: () => Promise<void>): void => {
    nodeIt(title, caseOptions, body);
  };

  async function withStore(body: (store: EventStore) => Promise<void>): Promise<void> {
    const fixture = await factory();
    try {
      await body(fixture.store);
    } finally {
      await fixture.cleanup();
    }
  }

  const context: ContractContext = { it, withStore, timeoutMs };
  describe(`EventStore contract: ${name}`, () => {
    appendCases(context);
    readCases(context);
    subscriptionCases(context);
    eventCases(context);
  });
}

import assert from "node:assert/strict";
import { foldEvents, type Decider } from "../decider.js";

/**
 * given/when/then for deciders:
 * `spec.given([events]).when(command).then([events])` or `.thenThrows(ErrorClass)`.
 */
export function deciderSpecification<Command, Event, State>(decider: Decider<Command, Event, State>) {
  return {
    given(events: readonly Event[]) {
      return {
        when(command: Command) {
          const run = () => {
            const state = foldEvents(decider, events);
            return decider.decide(command, state);
          };
          return {
            then(expected: readonly Event[]) {
              assert.deepStrictEqual(run(), expected);
            },
            thenMatches(check: (events: Event[]) => void) {
              check(run());
            },
            thenThrows<E extends Error>(errorClass: new (...args: never[]) => E, check?: (error: E) => void) {
              let thrown: unknown;
              try {
                run();
              } catch (error) {
                thrown = error;
              }
              assert.ok(thrown instanceof errorClass, `expected ${errorClass.name}, got ${String(thrown)}`);
              check?.(thrown as E);
            },
          };
        },
      };
    },
  };
}

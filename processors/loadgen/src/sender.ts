import type { RequestEnd } from "./http-target.js";

/** What a sender sends through: `send` calls `onEnd` once, when the request has ended. */
export interface RequestSink {
  send(onEnd: (end: RequestEnd) => void): void;
}

/** A running sender, open or closed loop. */
export interface Sender {
  /** Requests on the wire now, and (open loop) due but waiting for a connection. */
  readonly inFlight: number;
  readonly backlog: number;
  /** True once the end has passed and nothing is in flight, or after {@link stop}. */
  readonly finished: boolean;
  /** Nothing is sent at or after `endAtMs`. */
  setEnd(endAtMs: number): void;
  /** Sends nothing more; requests still in flight are not counted when they end. */
  stop(): void;
}

/** A FIFO of planned send times that does not shift arrays (thousands a second wait here under overload). */
export class TimeQueue {
  #items: number[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(value: number): void {
    this.#items.push(value);
  }

  shift(): number | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const value = this.#items[this.#head++]!;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return value;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}

import { SubscriptionClosedError } from "./errors.js";
import type { RecordedEvent, Subscription } from "./types.js";

/** What an adapter's feed sees of the subscription that runs it. */
export interface FeedContext {
  /** Aborted by `close()`; waits and retries inside the feed must honour it. */
  readonly signal: AbortSignal;
  /** Marks the subscription caught up at once, e.g. when the start found nothing to catch up. */
  markCaughtUp(): void;
  /**
   * Says that the event about to be yielded is the last one of the catch-up: `caughtUp` resolves once the
   * consumer is done with it (asks for the next event, or stops iterating).
   */
  caughtUpAfterThisEvent(): void;
}

/** An adapter's event feed: catch-up then live, in position order, ending when `signal` aborts. */
export type Feed = (context: FeedContext) => AsyncGenerator<RecordedEvent, void, undefined>;

/**
 * The one Subscription implementation the adapters share: it runs an adapter's feed as a single-use async
 * iterator, owns `caughtUp`, and turns `close()` into an abort plus the generator's own cleanup.
 *
 * `caughtUp` resolves when the consumer asks for the event after the last one that existed when the
 * subscription started (so everything before it has been processed), or at once when there was none.
 * It rejects with SubscriptionClosedError if the subscription closes first, or with the feed's error.
 */
export class FeedSubscription implements Subscription {
  readonly caughtUp: Promise<void>;
  readonly #abort: AbortController;
  readonly #generator: AsyncGenerator<RecordedEvent, void, undefined>;
  #resolveCaughtUp!: () => void;
  #rejectCaughtUp!: (error: unknown) => void;
  #settled = false;
  #iterated = false;
  #closed = false;
  readonly #onClose: (() => Promise<void>) | undefined;

  /**
   * @param feed the adapter's event feed, started on the first `next()`.
   * @param options.abort aborted by `close()`; pass one to tie work the adapter starts eagerly to the subscription.
   * @param options.onClose awaited by `close()` after the feed stopped, e.g. to release what the adapter
   *   opened eagerly for a feed that never ran.
   */
  constructor(feed: Feed, options: { abort?: AbortController; onClose?: () => Promise<void> } = {}) {
    this.#abort = options.abort ?? new AbortController();
    this.#onClose = options.onClose;
    this.caughtUp = new Promise<void>((resolve, reject) => {
      this.#resolveCaughtUp = resolve;
      this.#rejectCaughtUp = reject;
    });
    // Whoever awaits caughtUp still sees the rejection; nobody awaiting it must not crash the process.
    this.caughtUp.catch(() => undefined);
    this.#generator = this.#run(feed);
  }

  async *#run(feed: Feed): AsyncGenerator<RecordedEvent, void, undefined> {
    let boundary = false;
    const context: FeedContext = {
      signal: this.#abort.signal,
      markCaughtUp: () => this.markCaughtUp(),
      caughtUpAfterThisEvent: () => {
        boundary = true;
      },
    };
    try {
      for await (const event of feed(context)) {
        const last = boundary;
        boundary = false;
        try {
          yield event;
        } finally {
          // Runs when the consumer comes back for more or stops: either way it has handled `event`.
          if (last) this.markCaughtUp();
        }
      }
    } catch (error) {
      this.#settle(error);
      if (!this.#abort.signal.aborted) throw error;
    } finally {
      this.#closed = true;
      this.#settle(new SubscriptionClosedError());
    }
  }

  /** For adapters: resolves `caughtUp` (no-op once settled), e.g. when the start found nothing to catch up. */
  markCaughtUp(): void {
    this.#settle();
  }

  /** For adapters: rejects `caughtUp` with a failure found before the consumer started iterating. */
  fail(error: unknown): void {
    this.#settle(error);
  }

  #settle(error?: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    if (error === undefined) this.#resolveCaughtUp();
    else this.#rejectCaughtUp(error);
  }

  /** Aborted when the subscription closes. */
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  [Symbol.asyncIterator](): AsyncIterator<RecordedEvent> {
    if (this.#iterated) throw new Error("a subscription can be iterated only once");
    this.#iterated = true;
    return this.#generator;
  }

  async close(): Promise<void> {
    if (this.#abort.signal.aborted) return;
    this.#abort.abort();
    this.#settle(new SubscriptionClosedError());
    if (!this.#closed) await this.#generator.return(undefined);
    await this.#onClose?.();
  }
}

/** Resolves after `ms`, or rejects with the signal's reason as soon as it aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

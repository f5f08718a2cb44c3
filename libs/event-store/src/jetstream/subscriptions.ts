import type { ConsumerMessages } from "@nats-io/jetstream";
import { validateCategory, validateReadOptions } from "../stream-name.js";
import { FeedSubscription, type FeedContext } from "../subscription.js";
import type { RecordedEvent, SubscribeOptions, Subscription } from "../types.js";
import { PULL_EXPIRES_MS, type LogAccess, type OpenedConsumer } from "./log-access.js";
import { isTransient, toStoreError } from "./retry.js";

/** Catch-up subscriptions to the log (ordered consumers that follow live), and the set of open ones to close with the store. */
export class JetStreamSubscriptions {
  readonly #log: LogAccess;
  readonly #open = new Set<Subscription>();

  constructor(log: LogAccess) {
    this.#log = log;
  }

  subscribeToAll(options: SubscribeOptions = {}): Subscription {
    validateReadOptions(options);
    if (options.category !== undefined) validateCategory(options.category);
    const prefix = this.#log.options.logSubjectPrefix;
    const filter = options.category === undefined ? `${prefix}.>` : `${prefix}.${options.category}.>`;
    const after = options.afterPosition ?? 0;
    // The consumer opens now, not on the first `next()`, so that "the events that existed when the
    // subscription started" means what it says and `caughtUp` can resolve before anyone iterates.
    const abort = new AbortController();
    const opening = this.#log.openConsumer(filter, after + 1, abort.signal);
    let started = false;
    const subscription: FeedSubscription = new FeedSubscription(
      (context) => {
        started = true;
        return this.#follow(filter, after, opening, context);
      },
      {
        abort,
        onClose: async () => {
          this.#open.delete(subscription);
          if (started) return;
          const unused = await opening.catch(() => undefined);
          if (unused) await this.#log.deleteConsumer(unused.consumer);
        },
      },
    );
    void opening.then(
      (opened) => {
        if (opened.pending === 0) subscription.markCaughtUp();
      },
      (error: unknown) => subscription.fail(error),
    );
    this.#open.add(subscription);
    return subscription;
  }

  /** Closes every open subscription. */
  async closeAll(): Promise<void> {
    await Promise.all([...this.#open].map((subscription) => subscription.close()));
  }

  async *#follow(filter: string, after: number, opening: Promise<OpenedConsumer>, context: FeedContext): AsyncGenerator<RecordedEvent> {
    const first = await opening;
    let opened = first;
    let delivered = 0;
    let last = after;
    const { signal } = context;
    for (;;) {
      let messages: ConsumerMessages | undefined;
      const stop = () => messages?.stop();
      signal.addEventListener("abort", stop, { once: true });
      try {
        messages = await opened.consumer.consume({ max_messages: 256, expires: PULL_EXPIRES_MS });
        if (signal.aborted) return;
        for await (const message of messages) {
          const event = this.#log.decodeDelivered(message);
          last = event.position;
          delivered++;
          if (delivered === first.pending) context.caughtUpAfterThisEvent();
          yield event;
        }
        if (signal.aborted) return;
      } catch (error) {
        if (signal.aborted) return;
        if (!isTransient(error)) throw toStoreError(error, `subscription to ${filter}`);
      } finally {
        signal.removeEventListener("abort", stop);
        messages?.stop();
        await this.#log.deleteConsumer(opened.consumer);
      }
      // The consumer ended without being closed (e.g. it was deleted on the server): resume after the
      // last delivered event, which keeps the no-gap, no-duplicate promise.
      opened = await this.#log.openConsumer(filter, last + 1, signal);
    }
  }
}

import type { ConsumerMessages, JetStreamClient, JsMsg } from "@nats-io/jetstream";
import { request } from "undici";
import { AsyncRequestHeader, REQUEST_ID_HEADER } from "@eas/contracts";
import type { Logger } from "@eas/telemetry";
import { retryDelayMs, type RetryBackoff } from "../domain/attempts.js";
import { CALLBACKS_CONSUMER, CALLBACKS_STREAM } from "./topology.js";

export interface CallbackSettings {
  /** POSTs per callback before it is given up (logged and counted). */
  readonly attempts: number;
  readonly timeoutMs: number;
  readonly backoff: RetryBackoff;
  /** Callbacks POSTed at once. */
  readonly concurrency: number;
}

/**
 * Posts results to the callback URLs requests gave (`X-Eas-Callback-Url`): the result as JSON (the results watch's
 * format, with `service`), retried with back-off on a failure or a non-2xx answer, from the durable callbacks
 * stream, so a restart loses none. At least once: a receiver may see a callback twice and should key it by
 * `request_id`.
 */
export class CallbackWorker {
  readonly delivered = { ok: 0, givenUp: 0 };
  readonly #js: JetStreamClient;
  readonly #settings: CallbackSettings;
  readonly #log: Logger;
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;
  #stopping = false;
  readonly #running = new Set<Promise<void>>();

  constructor(js: JetStreamClient, settings: CallbackSettings, logger: Logger) {
    this.#js = js;
    this.#settings = settings;
    this.#log = logger.child({ component: "callbacks" });
  }

  start(): void {
    this.#loop = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#messages?.stop();
    await this.#loop;
    await Promise.all([...this.#running]);
  }

  async #run(): Promise<void> {
    while (!this.#stopping) {
      try {
        const consumer = await this.#js.consumers.get(CALLBACKS_STREAM, CALLBACKS_CONSUMER);
        this.#messages = await consumer.consume({ max_messages: this.#settings.concurrency });
        for await (const msg of this.#messages) {
          const post = this.#post(msg).finally(() => this.#running.delete(post));
          this.#running.add(post);
          if (this.#running.size >= this.#settings.concurrency) await Promise.race([...this.#running]);
        }
      } catch (error) {
        if (this.#stopping) return;
        this.#log.warn({ err: error instanceof Error ? error.message : String(error) }, "callback consumer failed; retrying in 1 s");
        await new Promise((resolve) => setTimeout(resolve, 1_000));
      }
    }
  }

  async #post(msg: JsMsg): Promise<void> {
    const url = msg.headers?.get(AsyncRequestHeader.callbackUrl) ?? "";
    const attempt = msg.info.deliveryCount;
    const requestId = (JSON.parse(new TextDecoder().decode(msg.data)) as { request_id?: string }).request_id ?? "";
    let problem: string;
    try {
      const response = await request(url, {
        method: "POST",
        headers: { "content-type": "application/json", [REQUEST_ID_HEADER]: requestId },
        body: Buffer.from(msg.data),
        signal: AbortSignal.timeout(this.#settings.timeoutMs),
      });
      await response.body.dump();
      if (response.statusCode >= 200 && response.statusCode < 300) {
        this.delivered.ok++;
        msg.ack();
        return;
      }
      problem = `HTTP ${response.statusCode}`;
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
    }
    if (attempt >= this.#settings.attempts) {
      this.delivered.givenUp++;
      this.#log.warn({ url, requestId, attempts: attempt, problem }, "callback given up");
      msg.ack();
      return;
    }
    msg.nak(retryDelayMs(attempt, this.#settings.backoff));
  }
}

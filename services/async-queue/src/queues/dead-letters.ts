import { DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from "@nats-io/jetstream";
import type { Kvm } from "@nats-io/kv";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { AsyncRequestHeader, asyncQueueLayout, type AsyncQueueLayout } from "@eas/contracts";
import { PreconditionFailedError } from "@eas/decider";
import type { DeadLetter } from "@eas/proto";
import { OutcomeStore } from "./outcome-store.js";
import { isNotFound } from "./topology.js";

const DEAD_LETTER_HEADERS = new Set<string>([
  AsyncRequestHeader.deadLetterReason,
  AsyncRequestHeader.attempts,
  AsyncRequestHeader.deadLetteredAt,
]);
const QUEUE_FULL = 10077;

/** A dead letter as read from its stream: the original request (body and headers) and why it failed. */
interface StoredDeadLetter {
  readonly seq: number;
  readonly msg: JsMsg;
  readonly view: DeadLetter;
}

/**
 * The dead letters of async services: listed for `eas queue`, and redriven, which queues each request again
 * under its own id with its attempts counted from zero (ADR 0030). A redrive first marks the request's record
 * "redriven" (so its "failed" outcome no longer stands and a new one can be stored), then queues it, then removes
 * its dead letter; repeated after a crash it picks up where it stopped.
 */
export class DeadLetters {
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #kvm: Kvm;

  constructor(js: JetStreamClient, jsm: JetStreamManager, kvm: Kvm) {
    this.#js = js;
    this.#jsm = jsm;
    this.#kvm = kvm;
  }

  /** How many dead letters `service` keeps now. */
  async count(service: string): Promise<number> {
    const info = await this.#jsm.streams.info(asyncQueueLayout(service).deadLetterStream).catch((error: unknown) => {
      if (isNotFound(error)) return undefined;
      throw error;
    });
    return info?.state.messages ?? 0;
  }

  async list(service: string, limit: number): Promise<{ deadLetters: DeadLetter[]; total: number }> {
    const total = await this.count(service);
    const deadLetters = (await this.#read(asyncQueueLayout(service), Math.min(limit, total))).map((letter) => letter.view);
    return { deadLetters, total };
  }

  /** Queues again the dead letters named (all of them with `all`); returns those redriven and the ids that had none. */
  async redrive(service: string, requestIds: readonly string[], all: boolean): Promise<{ redriven: string[]; notFound: string[] }> {
    const layout = asyncQueueLayout(service);
    const letters = await this.#read(layout, await this.count(service));
    const wanted = new Set(requestIds);
    const chosen = all ? letters : letters.filter((letter) => wanted.has(letter.view.requestId));
    const store = new OutcomeStore(await this.#kvm.open(layout.resultsBucket), this.#js, layout);
    const redriven: string[] = [];
    for (const letter of chosen) {
      const requestId = letter.view.requestId;
      await store.markRedriven(requestId);
      const headers = natsHeaders();
      for (const name of letter.msg.headers?.keys() ?? []) {
        if (name.startsWith("Nats-") || DEAD_LETTER_HEADERS.has(name)) continue;
        for (const value of letter.msg.headers?.values(name) ?? []) headers.append(name, value);
      }
      const priority = headers.get(AsyncRequestHeader.priority) === "1";
      try {
        await this.#js.publish(layout.requestSubject(requestId, priority), letter.msg.data, {
          headers,
          msgID: `rd-${requestId}-${letter.seq}`,
          expect: { streamName: layout.stream },
        });
      } catch (error) {
        if ((error as { code?: unknown }).code === QUEUE_FULL) {
          throw new PreconditionFailedError(
            `the queue of ${service} is full: redrove ${redriven.length} of ${chosen.length} (${redriven.join(", ") || "none"}); redrive the rest when it has room`,
          );
        }
        throw error;
      }
      await this.#jsm.streams.deleteMessage(layout.deadLetterStream, letter.seq, false);
      redriven.push(requestId);
    }
    const found = new Set(letters.map((letter) => letter.view.requestId));
    return { redriven, notFound: all ? [] : requestIds.filter((id) => !found.has(id)) };
  }

  async #read(layout: AsyncQueueLayout, count: number): Promise<StoredDeadLetter[]> {
    if (count <= 0) return [];
    const consumer = await this.#js.consumers.get(layout.deadLetterStream, { deliver_policy: DeliverPolicy.All });
    const letters: StoredDeadLetter[] = [];
    const messages = await consumer.fetch({ max_messages: count, expires: 2_000 });
    for await (const msg of messages) {
      letters.push({ seq: msg.seq, msg, view: toView(layout, msg) });
      if (letters.length >= count) break;
    }
    return letters;
  }
}

function toView(layout: AsyncQueueLayout, msg: JsMsg): DeadLetter {
  const header = (name: string) => msg.headers?.get(name) ?? "";
  const submittedAt = Number(header(AsyncRequestHeader.submittedAt));
  return {
    requestId: layout.requestIdOf(msg.subject),
    service: layout.service,
    reason: header(AsyncRequestHeader.deadLetterReason),
    attempts: Number(header(AsyncRequestHeader.attempts)) || 0,
    deadLetteredAt: header(AsyncRequestHeader.deadLetteredAt),
    submittedAt: submittedAt > 0 ? new Date(submittedAt).toISOString() : "",
    method: header(AsyncRequestHeader.method) || "POST",
    path: header(AsyncRequestHeader.path) || "/",
    bodyBytes: msg.data.length,
  };
}

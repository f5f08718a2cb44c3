import type { ServerResponse } from "node:http";
import { KvWatchInclude, type KV, type KvWatchEntry } from "@nats-io/kv";
import { asyncResultView, decodeAsyncResult, isOutcome } from "@eas/contracts";
import type { AsyncExchange, GatewayLogger } from "../proxy/index.js";

/** A comment line every so often keeps idle proxies and clients from closing the stream. */
const KEEP_ALIVE_MS = 15_000;

/**
 * The results watch, `GET /api/predict/<service>/results`: a server-sent event per outcome stored from now on
 * (`event: result`, `id:` the KV revision, `data:` the result as JSON, body included). A client that reconnects
 * with `Last-Event-ID` resumes after that revision, so it misses nothing still kept.
 */
export class ResultsWatches {
  readonly #logger: GatewayLogger;
  readonly #open = new Set<{ stop(): void }>();

  constructor(logger: GatewayLogger) {
    this.#logger = logger;
  }

  async open(exchange: AsyncExchange, results: KV): Promise<void> {
    const { req, res } = exchange;
    const lastEventId = Number(req.headers["last-event-id"]);
    const resumeFrom = Number.isInteger(lastEventId) && lastEventId >= 0 ? lastEventId + 1 : 0;
    const watcher = await results.watch(
      resumeFrom > 0
        ? { key: ">", resumeFromRevision: resumeFrom, include: KvWatchInclude.AllHistory }
        : { key: ">", include: KvWatchInclude.UpdatesOnly },
    );
    res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", "x-accel-buffering": "no" });
    res.write(": watching results\n\n");
    exchange.answered(200);
    const keepAlive = setInterval(() => res.write(": keep-alive\n\n"), KEEP_ALIVE_MS);
    const handle = {
      stop: () => {
        clearInterval(keepAlive);
        watcher.stop();
        if (!res.writableEnded) res.end();
      },
    };
    this.#open.add(handle);
    res.once("close", () => {
      this.#open.delete(handle);
      handle.stop();
    });
    void this.#forward(watcher, res).finally(() => {
      this.#open.delete(handle);
      handle.stop();
    });
  }

  closeAll(): void {
    for (const handle of [...this.#open]) handle.stop();
    this.#open.clear();
  }

  async #forward(watcher: AsyncIterable<KvWatchEntry>, res: ServerResponse): Promise<void> {
    try {
      for await (const entry of watcher) {
        if (entry.operation !== "PUT") continue;
        const result = decodeAsyncResult(entry.value);
        if (!isOutcome(result)) continue;
        res.write(`id: ${entry.revision}\nevent: result\ndata: ${JSON.stringify(asyncResultView(result))}\n\n`);
      }
    } catch (error) {
      this.#logger.warn({ err: error instanceof Error ? error.message : String(error) }, "results watch ended");
    }
  }
}

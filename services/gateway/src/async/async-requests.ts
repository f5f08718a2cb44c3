import { randomUUID } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { headers as natsHeaders } from "@nats-io/transport-node";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { KV, Kvm } from "@nats-io/kv";
import { AsyncRequestHeader, asyncQueueLayout, AsyncResultState, isRequestId, REQUEST_ID_HEADER } from "@eas/contracts";
import type { AsyncResult } from "@eas/proto";
import {
  GatewayErrorCode,
  gatewayErrorStatus,
  sendError,
  type AsyncExchange,
  type AsyncRequests,
  type GatewayLogger,
  type RouteEntry,
} from "../proxy/index.js";
import { lookUpResult } from "./result-lookup.js";
import { ResultsWatches } from "./results-watch.js";
import { isSubmissionProblem, readSubmission, requestedResultId } from "./submission.js";

/** What the async requests need from the process's NATS connection (the bus offers exactly these). */
export interface AsyncNats {
  jetstream(): JetStreamClient;
  jetstreamManager(): Promise<JetStreamManager>;
  keyValue(): Kvm;
}

export interface AsyncRequestsOptions {
  nats: AsyncNats;
  logger: GatewayLogger;
  /** Wall clock in Unix ms, stamped on queued requests; default `Date.now`. */
  clock?: () => number;
  /** How long a submission waits for JetStream to confirm it stored the request; default 5 s. */
  publishTimeoutMs?: number;
}

/** JetStream error codes the answers depend on. */
const JS_MAX_MESSAGES = 10077;
const JS_MESSAGE_TOO_LARGE = 10054;
const JS_STREAM_NOT_FOUND = 10059;

/**
 * The gateway's async requests on JetStream (ADR 0029): a submission is published to the service's work-queue
 * stream and answered only once JetStream has confirmed it stored it; results are read from the service's KV
 * bucket, pending requests found in the stream. The async-queue creates both and does everything else.
 */
export async function createAsyncRequests(options: AsyncRequestsOptions): Promise<AsyncRequests> {
  const { nats, logger } = options;
  const clock = options.clock ?? Date.now;
  const publishTimeoutMs = options.publishTimeoutMs ?? 5_000;
  const js = nats.jetstream();
  const jsm = await nats.jetstreamManager();
  const kvm = nats.keyValue();
  const buckets = new Map<string, Promise<KV>>();
  const submissions = new Set<Promise<void>>();
  const watches = new ResultsWatches(logger);

  /** The service's results bucket, opened once; forgotten on failure so a later request opens it again. */
  function bucket(service: string): Promise<KV> {
    let opened = buckets.get(service);
    if (!opened) {
      opened = kvm.open(asyncQueueLayout(service).resultsBucket);
      buckets.set(service, opened);
      opened.catch(() => buckets.delete(service));
    }
    return opened;
  }

  async function enqueue(exchange: AsyncExchange): Promise<void> {
    const { route, res } = exchange;
    const fail = (code: GatewayErrorCode, message: string, closeConnection = false, headers?: string[]) => {
      sendError(res, code, message, closeConnection || exchange.closing, headers);
      exchange.answered(gatewayErrorStatus[code]);
    };
    const submission = readSubmission(exchange.path, exchange.headers);
    if (isSubmissionProblem(submission)) {
      exchange.req.resume();
      fail(GatewayErrorCode.BadRequest, submission.problem, true);
      return;
    }
    const body = await readBody(exchange.req, exchange.maxBodyBytes);
    if (body === "gone") return;
    if (body === "too large") {
      fail(GatewayErrorCode.PayloadTooLarge, `request body exceeds ${exchange.maxBodyBytes} bytes`, true);
      return;
    }

    const requestId = randomUUID();
    const layout = asyncQueueLayout(route.service);
    const headers = natsHeaders();
    headers.set(AsyncRequestHeader.requestId, requestId);
    headers.set(AsyncRequestHeader.method, exchange.req.method ?? "POST");
    headers.set(AsyncRequestHeader.path, submission.path);
    headers.set(AsyncRequestHeader.headers, JSON.stringify(submission.headers));
    headers.set(AsyncRequestHeader.submittedAt, String(clock()));
    if (submission.priority) headers.set(AsyncRequestHeader.priority, "1");
    if (submission.callbackUrl !== undefined) headers.set(AsyncRequestHeader.callbackUrl, submission.callbackUrl);
    try {
      const ack = await js.publish(layout.requestSubject(requestId, submission.priority), body, {
        msgID: requestId,
        headers,
        expect: { streamName: layout.stream },
        timeout: publishTimeoutMs,
      });
      const answer = Buffer.from(JSON.stringify({ request_id: requestId, index: ack.seq, priority: submission.priority }));
      if (exchange.closing) res.shouldKeepAlive = false;
      res.writeHead(200, ["content-type", "application/json", "content-length", String(answer.length), REQUEST_ID_HEADER, requestId]);
      res.end(answer);
      exchange.answered(200);
    } catch (error) {
      const code = jetStreamErrorCode(error);
      if (code === JS_MAX_MESSAGES) {
        fail(GatewayErrorCode.QueueFull, `service ${route.service} queue is full (${route.async?.maxLength ?? "its max_length"} requests)`);
      } else if (code === JS_MESSAGE_TOO_LARGE) {
        fail(GatewayErrorCode.PayloadTooLarge, `request of ${body.length} bytes is larger than the queue accepts`, true);
      } else if (isTimeout(error)) {
        // JetStream may have stored it: the id lets the client look, instead of sending it again.
        fail(
          GatewayErrorCode.UpstreamTimeout,
          `the queue did not confirm request ${requestId} within ${publishTimeoutMs} ms; it may have been queued: look it up before sending it again`,
          false,
          [REQUEST_ID_HEADER, requestId],
        );
      } else {
        const unknownQueue = code === JS_STREAM_NOT_FOUND || isNoQueue(error);
        if (!unknownQueue) logger.warn({ service: route.service, err: describe(error) }, "async submission failed");
        fail(
          GatewayErrorCode.ServiceUnavailable,
          unknownQueue
            ? `the queue of service ${route.service} is not ready yet (the async-queue creates it)`
            : `the queue of service ${route.service} is unavailable: ${describe(error)}`,
          false,
          ["retry-after", "1"],
        );
      }
    }
  }

  async function readResults(exchange: AsyncExchange): Promise<void> {
    const { route, res } = exchange;
    const fail = (code: GatewayErrorCode, message: string, headers?: string[]) => {
      sendError(res, code, message, exchange.closing, headers);
      exchange.answered(gatewayErrorStatus[code]);
    };
    const id = requestedResultId(exchange.path);
    const sink = exchange.path.startsWith("/sink");
    if (id === "") {
      try {
        await watches.open(exchange, await bucket(route.service));
      } catch (error) {
        fail(GatewayErrorCode.ServiceUnavailable, `the results of service ${route.service} are unavailable: ${describe(error)}`);
      }
      return;
    }
    if (id === undefined) {
      fail(GatewayErrorCode.BadRequest, "give the request id: GET .../sink?requestId=<id> or GET .../results/<id>");
      return;
    }
    const notFound = () =>
      fail(
        GatewayErrorCode.RequestNotFound,
        `no request ${JSON.stringify(id)} in service ${route.service}: unknown, or its result was removed (results are kept ${retention(route)})`,
      );
    if (!isRequestId(id)) {
      notFound();
      return;
    }
    let found;
    try {
      found = await lookUpResult(await bucket(route.service), jsm, asyncQueueLayout(route.service), id);
    } catch (error) {
      fail(GatewayErrorCode.ServiceUnavailable, `the results of service ${route.service} are unavailable: ${describe(error)}`, [
        "retry-after",
        "1",
      ]);
      return;
    }
    if (found.kind === "unknown") {
      notFound();
      return;
    }
    if (found.kind === "pending") {
      const result = found.result;
      if (sink) {
        writeAnswer(res, exchange.closing, 204, [REQUEST_ID_HEADER, id], undefined);
      } else {
        const view = {
          request_id: id,
          status: "pending",
          attempts: result?.attempts ?? 0,
          ...(result?.error ? { error: result.error } : {}),
        };
        writeAnswer(res, exchange.closing, 202, [REQUEST_ID_HEADER, id, "retry-after", "1", "content-type", "application/json"], view);
      }
      exchange.answered(sink ? 204 : 202);
      return;
    }
    const result = found.result;
    if (result.state === AsyncResultState.failed) {
      fail(GatewayErrorCode.RequestFailed, `request ${id} failed after ${result.attempts} attempt(s): ${result.error}`, [
        REQUEST_ID_HEADER,
        id,
      ]);
      return;
    }
    writeResult(res, exchange.closing, result);
    exchange.answered(200);
  }

  function track(work: Promise<void>): void {
    submissions.add(work);
    void work.finally(() => submissions.delete(work));
  }

  return {
    enqueue(exchange) {
      track(
        enqueue(exchange).catch((error: unknown) => {
          logger.error({ err: describe(error), service: exchange.route.service }, "async submission crashed");
          sendError(exchange.res, GatewayErrorCode.BadGateway, "internal error while queueing", true);
        }),
      );
    },
    readResults(exchange) {
      track(
        readResults(exchange).catch((error: unknown) => {
          logger.error({ err: describe(error), service: exchange.route.service }, "async result read crashed");
          sendError(exchange.res, GatewayErrorCode.BadGateway, "internal error while reading the result", true);
        }),
      );
    },
    async close() {
      watches.closeAll();
      await Promise.all([...submissions]);
    },
  };
}

/** A stored outcome as the answer: the instance's status code in `X-Eas-Result-Code`, its headers and body. */
function writeResult(res: ServerResponse, closing: boolean, result: AsyncResult): void {
  const headers: string[] = [];
  for (const { name, value } of result.headers) {
    const lower = name.toLowerCase();
    if (lower === "content-length" || lower === "transfer-encoding" || lower === "connection" || lower === "keep-alive") continue;
    headers.push(name, value);
  }
  headers.push("content-length", String(result.body.length), REQUEST_ID_HEADER, result.requestId);
  headers.push("x-eas-result-code", String(result.statusCode), "x-eas-attempts", String(result.attempts));
  if (result.instanceId !== "") headers.push("x-eas-instance", result.instanceId);
  if (closing) res.shouldKeepAlive = false;
  res.writeHead(200, headers);
  res.end(result.body);
}

function writeAnswer(res: ServerResponse, closing: boolean, status: number, headers: string[], json: unknown): void {
  if (closing) res.shouldKeepAlive = false;
  if (json === undefined) {
    res.writeHead(status, headers);
    res.end();
    return;
  }
  const body = Buffer.from(JSON.stringify(json));
  res.writeHead(status, [...headers, "content-length", String(body.length)]);
  res.end(body);
}

/** The whole body, up to `limit` bytes; "too large" past it (the rest is drained), "gone" when the client left. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | "too large" | "gone"> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (chunk: Buffer) => {
      if (over) return;
      size += chunk.length;
      if (size > limit) {
        over = true;
        chunks.length = 0;
        resolve("too large");
        return;
      }
      chunks.push(chunk);
    });
    req.once("end", () => {
      if (!over) resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    });
    req.once("aborted", () => resolve("gone"));
    req.once("error", () => resolve("gone"));
  });
}

function retention(route: RouteEntry): string {
  const seconds = route.async?.resultRetentionSeconds ?? 0;
  if (seconds % 86_400 === 0) return `${seconds / 86_400} day(s)`;
  if (seconds % 3_600 === 0) return `${seconds / 3_600} hour(s)`;
  return `${seconds} s`;
}

function jetStreamErrorCode(error: unknown): number | undefined {
  const code = (error as { code?: unknown }).code;
  return typeof code === "number" ? code : undefined;
}

function isTimeout(error: unknown): boolean {
  return error instanceof Error && (error.name === "TimeoutError" || /timeout/i.test(error.message));
}

/** No stream takes the subject: the publish found no responder. */
function isNoQueue(error: unknown): boolean {
  return (
    error instanceof Error &&
    (error.name === "JetStreamNotEnabled" || error.name === "NoRespondersError" || /no responders/i.test(error.message))
  );
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

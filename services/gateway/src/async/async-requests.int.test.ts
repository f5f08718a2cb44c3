import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, it } from "node:test";
import { DiscardPolicy, RetentionPolicy, type JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import { connectBus, type Bus } from "@eas/bus";
import { AsyncRequestHeader, AsyncResultState, asyncQueueLayout, encodeAsyncResult, REQUEST_ID_HEADER } from "@eas/contracts";
import type { AsyncResult } from "@eas/proto";
import { startNatsServer, waitFor, type NatsServerHandle } from "@eas/testing";
import type { GatewayErrorBody } from "../proxy/errors.js";
import { routeEntry, startGateway, type TestGateway } from "../proxy/test-support.js";
import { createAsyncRequests } from "./async-requests.js";

const SERVICE = "gen";
const layout = asyncQueueLayout(SERVICE);
const asyncRoute = { maxPayloadBytes: 1_024, maxLength: 3, resultRetentionSeconds: 3_600 };

function result(requestId: string, overrides: Partial<AsyncResult>): AsyncResult {
  return {
    requestId,
    state: AsyncResultState.done,
    statusCode: 200,
    headers: [],
    body: Buffer.alloc(0),
    attempts: 1,
    instanceId: "i-1",
    error: "",
    submittedAtMs: 1_700_000_000_000,
    finishedAtMs: 1_700_000_001_000,
    ...overrides,
  };
}

/**
 * The gateway's side of async services, on a real nats-server: the queue's stream and results bucket are made as
 * the async-queue makes them (the contract in @eas/contracts), and results are written into the bucket by hand.
 */
describe("gateway: async requests on JetStream", () => {
  let nats: NatsServerHandle;
  let bus: Bus;
  let jsm: JetStreamManager;
  let results: KV;
  let gw: TestGateway;

  before(async () => {
    nats = await startNatsServer();
    bus = await connectBus({ servers: nats.url, name: "gateway-async-test" });
    jsm = await bus.jetstreamManager();
    await jsm.streams.add({
      name: layout.stream,
      subjects: [layout.subjects],
      retention: RetentionPolicy.Workqueue,
      max_msgs: asyncRoute.maxLength,
      discard: DiscardPolicy.New,
      allow_direct: true,
    });
    results = await bus.keyValue().create(layout.resultsBucket, { history: 1 });
    const asyncRequests = await createAsyncRequests({
      nats: bus,
      logger: { debug() {}, info() {}, warn() {}, error() {} },
      clock: () => 1_700_000_000_000,
    });
    gw = await startGateway(
      [
        routeEntry(SERVICE, [], { async: asyncRoute, rateLimit: 0 }),
        routeEntry("noqueue", [], { async: asyncRoute }),
        routeEntry("paused", [], { async: asyncRoute, state: "stopped" }),
        routeEntry("limited", [], { async: asyncRoute, rateLimit: 1 }),
      ],
      { asyncRequests },
    );
  });
  after(async () => {
    await gw?.close();
    await bus?.close();
    await nats?.stop();
  });

  const purge = () => jsm.streams.purge(layout.stream);

  it("queues a request, answering only once it is stored: its id in the header and the body, its path, headers and priority in the message", async () => {
    await purge();
    const answer = await gw.call(`/api/predict/${SERVICE}/v1/generate?steps=4&_priority_=1`, {
      body: '{"prompt":"a cat"}',
      headers: { "content-type": "application/json", "x-eas-callback-url": "http://127.0.0.1:9/cb", "x-trace": "t1" },
    });
    assert.equal(answer.status, 200, answer.text);
    const id = answer.headers[REQUEST_ID_HEADER.toLowerCase()] as string;
    assert.deepEqual(answer.json(), { request_id: id, index: 1, priority: true });
    const stored = await jsm.direct.getMessage(layout.stream, { last_by_subj: layout.requestSubject(id, true) });
    assert.ok(stored, "the request is in the queue's stream under the priority subject");
    assert.equal(new TextDecoder().decode(stored.data), '{"prompt":"a cat"}');
    assert.equal(stored.header.get(AsyncRequestHeader.path), "/v1/generate?steps=4");
    assert.equal(stored.header.get(AsyncRequestHeader.method), "POST");
    assert.equal(stored.header.get(AsyncRequestHeader.callbackUrl), "http://127.0.0.1:9/cb");
    assert.equal(stored.header.get(AsyncRequestHeader.priority), "1");
    const forwarded = JSON.parse(stored.header.get(AsyncRequestHeader.headers)) as [string, string][];
    assert.ok(forwarded.some(([name, value]) => name.toLowerCase() === "x-trace" && value === "t1"));
    assert.ok(!forwarded.some(([name]) => ["authorization", "x-eas-callback-url"].includes(name.toLowerCase())));
  });

  it("answers 450 with a JSON error once the queue holds max_length requests, and queues nothing more", async () => {
    await purge();
    for (let n = 0; n < asyncRoute.maxLength; n++) assert.equal((await gw.call(`/api/predict/${SERVICE}`, { body: "{}" })).status, 200);
    const full = await gw.call(`/api/predict/${SERVICE}`, { body: "{}" });
    assert.equal(full.status, 450);
    assert.equal(full.json<GatewayErrorBody>().error.code, "QueueFull");
    assert.match(full.json<GatewayErrorBody>().error.message, /queue is full \(3 requests\)/);
    assert.equal((await jsm.streams.info(layout.stream)).state.messages, asyncRoute.maxLength);
  });

  it("refuses an oversized payload with 413, declared or chunked, before anything is queued", async () => {
    await purge();
    const declared = await gw.call(`/api/predict/${SERVICE}`, { body: "x".repeat(asyncRoute.maxPayloadBytes + 1) });
    assert.equal(declared.status, 413);
    assert.equal(declared.json<GatewayErrorBody>().error.code, "PayloadTooLarge");
    const chunked = await chunkedPost(`${gw.url}/api/predict/${SERVICE}`, ["x".repeat(800), "y".repeat(800)]);
    assert.equal(chunked.status, 413);
    assert.equal((await jsm.streams.info(layout.stream)).state.messages, 0);
  });

  it("refuses a bad _priority_ or callback URL with 400 naming it", async () => {
    const priority = await gw.call(`/api/predict/${SERVICE}?_priority_=urgent`, { body: "{}" });
    assert.equal(priority.status, 400);
    assert.match(priority.json<GatewayErrorBody>().error.message, /_priority_/);
    const callback = await gw.call(`/api/predict/${SERVICE}`, { body: "{}", headers: { "x-eas-callback-url": "ftp://x" } });
    assert.equal(callback.status, 400);
    assert.match(callback.json<GatewayErrorBody>().error.message, /X-Eas-Callback-Url/);
  });

  it("answers 503 while the service's queue does not exist, 503 for a stopped service, 429 past the rate limit, 401 without the token", async () => {
    const noQueue = await gw.call("/api/predict/noqueue", { body: "{}" });
    assert.equal(noQueue.status, 503);
    assert.match(noQueue.json<GatewayErrorBody>().error.message, /not ready yet/);
    assert.equal((await gw.call("/api/predict/paused", { body: "{}" })).status, 503);
    assert.equal((await gw.call(`/api/predict/${SERVICE}`, { body: "{}", token: "wrong" })).status, 401);
    const first = await gw.call("/api/predict/limited", { body: "{}" });
    const second = await gw.call("/api/predict/limited", { body: "{}" });
    assert.deepEqual([first.status, second.status].sort(), [429, 503]);
  });

  it("reads results: 404 for an unknown id, 202 (or EAS's sink 204) while queued, 200 with the instance's answer once done, 502 when failed", async () => {
    await purge();
    const unknown = await gw.call(`/api/predict/${SERVICE}/results/no-such-id`, { method: "GET" });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json<GatewayErrorBody>().error.code, "RequestNotFound");
    assert.match(unknown.json<GatewayErrorBody>().error.message, /kept 1 hour/);
    assert.equal((await gw.call(`/api/predict/${SERVICE}/results/a.*`, { method: "GET" })).status, 404);

    const id = (await gw.call(`/api/predict/${SERVICE}`, { body: "{}" })).json<{ request_id: string }>().request_id;
    const pending = await gw.call(`/api/predict/${SERVICE}/results/${id}`, { method: "GET" });
    assert.equal(pending.status, 202);
    assert.deepEqual(pending.json(), { request_id: id, status: "pending", attempts: 0 });
    assert.equal((await gw.call(`/api/predict/${SERVICE}/sink?requestId=${id}`, { method: "GET" })).status, 204);

    await results.put(id, encodeAsyncResult(result(id, { state: AsyncResultState.retrying, attempts: 1, error: "HTTP 500" })));
    assert.deepEqual((await gw.call(`/api/predict/${SERVICE}/results/${id}`, { method: "GET" })).json(), {
      request_id: id,
      status: "pending",
      attempts: 1,
      error: "HTTP 500",
    });

    await results.put(
      id,
      encodeAsyncResult(
        result(id, {
          statusCode: 201,
          headers: [{ name: "content-type", value: "text/plain" }],
          body: Buffer.from("a painting"),
          attempts: 2,
        }),
      ),
    );
    await jsm.streams.purge(layout.stream);
    const done = await gw.call(`/api/predict/${SERVICE}/results/${id}`, { method: "GET" });
    assert.equal(done.status, 200);
    assert.equal(done.text, "a painting");
    assert.equal(done.headers["content-type"], "text/plain");
    assert.equal(done.headers["x-eas-result-code"], "201");
    assert.equal(done.headers["x-eas-attempts"], "2");
    assert.equal(done.headers[REQUEST_ID_HEADER.toLowerCase()], id);
    assert.equal((await gw.call(`/api/predict/${SERVICE}/sink?requestId=${id}`, { method: "GET" })).text, "a painting");

    await results.put(
      "f1",
      encodeAsyncResult(result("f1", { state: AsyncResultState.failed, statusCode: 0, attempts: 3, error: "HTTP 500 (instance i-2)" })),
    );
    const failed = await gw.call(`/api/predict/${SERVICE}/results/f1`, { method: "GET" });
    assert.equal(failed.status, 502);
    assert.equal(failed.json<GatewayErrorBody>().error.code, "RequestFailed");
    assert.match(failed.json<GatewayErrorBody>().error.message, /failed after 3 attempt\(s\): HTTP 500 \(instance i-2\)/);
  });

  it("streams each stored outcome to a results watch, and resumes after Last-Event-ID", async () => {
    const events: string[] = [];
    const watch = await openWatch(`${gw.url}/api/predict/${SERVICE}/results`, events);
    await results.put("w1", encodeAsyncResult(result("w1", { state: AsyncResultState.retrying })));
    await results.put("w1", encodeAsyncResult(result("w1", { body: Buffer.from('{"ok":1}') })));
    await results.put("w2", encodeAsyncResult(result("w2", { state: AsyncResultState.failed, error: "gone" })));
    await waitFor("two outcomes on the watch", () => events.length >= 2);
    watch.close();
    const [first, second] = events.map((text) => parseEvent(text));
    assert.deepEqual(
      [first?.data.request_id, first?.data.status, first?.data.body, second?.data.request_id, second?.data.status, second?.data.error],
      ["w1", "done", '{"ok":1}', "w2", "failed", "gone"],
    );

    const resumed: string[] = [];
    const again = await openWatch(`${gw.url}/api/predict/${SERVICE}/results`, resumed, first?.id);
    await waitFor("the outcome after the last event seen", () => resumed.length >= 1);
    again.close();
    assert.equal(parseEvent(resumed[0] ?? "")?.data.request_id, "w2");
  });

  it("refuses a WebSocket upgrade on an async service with 400", async () => {
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${gw.url}/api/predict/${SERVICE}/ws`, {
        headers: { authorization: "secret-token", connection: "upgrade", upgrade: "websocket" },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("upgrade", () => resolve(101));
      req.on("error", reject);
      req.end();
    });
    assert.equal(status, 400);
  });
});

async function chunkedPost(url: string, chunks: string[]): Promise<{ status: number }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: "POST", headers: { authorization: "secret-token", "transfer-encoding": "chunked" } });
    req.on("response", (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on("error", (error: NodeJS.ErrnoException) => (error.code === "ECONNRESET" || error.code === "EPIPE" ? undefined : reject(error)));
    for (const chunk of chunks) req.write(chunk);
    req.end();
  });
}

async function openWatch(url: string, events: string[], lastEventId?: string): Promise<{ close(): void }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, {
      headers: { authorization: "secret-token", accept: "text/event-stream", ...(lastEventId ? { "last-event-id": lastEventId } : {}) },
    });
    req.on("response", (res) => {
      let buffered = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        buffered += chunk;
        let end: number;
        while ((end = buffered.indexOf("\n\n")) >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          if (block.includes("event: result")) events.push(block);
        }
      });
      res.on("error", () => undefined);
      resolve({ close: () => req.destroy() });
    });
    req.on("error", reject);
    req.end();
  });
}

function parseEvent(block: string): { id: string; data: Record<string, unknown> } | undefined {
  const id = /^id: (.*)$/m.exec(block)?.[1];
  const data = /^data: (.*)$/m.exec(block)?.[1];
  return id && data ? { id, data: JSON.parse(data) as Record<string, unknown> } : undefined;
}

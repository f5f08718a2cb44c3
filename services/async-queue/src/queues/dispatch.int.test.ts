import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { AsyncResultState } from "@eas/contracts";
import { waitFor } from "@eas/testing";
import type { AsyncServicesState } from "../projections/async-services.js";
import {
  asyncService,
  startInstance,
  startQueueFixture,
  TEST_QUEUE,
  type QueueFixture,
  type TestInstance,
} from "../testing/queue-fixture.js";
import { queueSamples } from "@eas/metrics";
import type { QueueSample } from "@eas/proto";
import { Registry } from "prom-client";
import { queueStatus } from "../api/async-queue-api.js";
import { QueueSampler } from "../metrics/queue-sampler.js";
import { CallbackWorker } from "./callbacks.js";
import { DeadLetters } from "./dead-letters.js";

/** The dispatcher on a real nats-server with real HTTP instances: each test has its own service (and queue). */
describe("async-queue: dispatching a service's queue", () => {
  let fx: QueueFixture;
  const instances: TestInstance[] = [];
  const instance = async (id: string, latencyMs = 0) => {
    const started = await startInstance(id, latencyMs);
    instances.push(started);
    return started;
  };

  before(async () => {
    // A short ack wait: a request held by a dispatcher that stopped answering for it is handed out again in 1 s.
    fx = await startQueueFixture({ ackWaitMs: 1_000 });
  });
  after(async () => {
    await fx?.close();
    for (const started of instances) await started.close();
  });

  it("sends requests to Ready instances over their HTTP endpoint, never more than each one's concurrency at once, and stores each answer", async () => {
    const [a, b] = [await instance("a", 30), await instance("b", 30)];
    const state = asyncService("window", { a: a.endpoint, b: b.endpoint }, TEST_QUEUE, 2);
    const dispatchers = fx.dispatchers(() => state);
    await dispatchers.syncAll();
    const ids = await Promise.all(
      Array.from({ length: 40 }, (_, n) => fx.submit("window", JSON.stringify({ n }), { path: "/v1/run?x=1" })),
    );
    const outcomes = await Promise.all(ids.map((id) => fx.outcome("window", id)));
    assert.ok(a.maxInFlight <= 2 && b.maxInFlight <= 2, `in flight at most 2 per instance, saw ${a.maxInFlight} and ${b.maxInFlight}`);
    assert.ok(a.hits > 0 && b.hits > 0, "both instances took requests");
    assert.equal(a.hits + b.hits, 40, "one attempt per request");
    outcomes.forEach((outcome, n) => {
      assert.equal(outcome.state, AsyncResultState.done);
      assert.equal(outcome.statusCode, 200);
      assert.equal(outcome.attempts, 1);
      const answer = JSON.parse(outcome.body.toString()) as { instance: string; echo: string };
      assert.equal(answer.echo, JSON.stringify({ n }));
      assert.equal(answer.instance, outcome.instanceId);
    });
    assert.deepEqual(new Set(a.arrivals.concat(b.arrivals)), new Set(ids), "instances see the request id as X-Request-Id");
    await waitFor("the queue empty", async () => (await fx.queued("window")) === 0);
  });

  it("dispatches priority requests before the others waiting", async () => {
    const solo = await instance("solo", 40);
    const state = asyncService("priority", { solo: solo.endpoint }, TEST_QUEUE, 1);
    await fx.topology.ensureService("priority", TEST_QUEUE);
    const normal = [];
    for (let n = 0; n < 8; n++) normal.push(await fx.submit("priority", "{}"));
    const urgent = [];
    for (let n = 0; n < 3; n++) urgent.push(await fx.submit("priority", "{}", { priority: true }));
    const dispatchers = fx.dispatchers(() => state);
    await dispatchers.syncAll();
    await Promise.all([...normal, ...urgent].map((id) => fx.outcome("priority", id)));
    const position = (id: string) => solo.arrivals.indexOf(id);
    const lastUrgent = Math.max(...urgent.map(position));
    assert.ok(
      lastUrgent < 3 + 2,
      `the priority requests ran among the first, at ${urgent.map(position).join(", ")} of ${solo.arrivals.length}`,
    );
  });

  it("retries a failing request, dead-letters it after max_attempts with the last error, and a redrive queues it again", async () => {
    const flaky = await instance("flaky");
    let failing = true;
    flaky.handler = (_req, res) => {
      res.writeHead(failing ? 503 : 200, { "content-type": "text/plain" });
      res.end(failing ? "overloaded" : "fine now");
    };
    const config = { ...TEST_QUEUE, maxAttempts: 2 };
    const state = asyncService("deadletters", { flaky: flaky.endpoint }, config);
    const dispatchers = fx.dispatchers(() => state);
    await dispatchers.syncAll();
    const id = await fx.submit("deadletters", '{"q":1}', { path: "/gen" });
    const failed = await fx.outcome("deadletters", id);
    assert.equal(failed.state, AsyncResultState.failed);
    assert.equal(failed.attempts, 2);
    assert.equal(failed.error, "HTTP 503 (instance flaky)");
    assert.equal(flaky.hits, 2);

    const deadLetters = new DeadLetters(fx.js, fx.jsm, fx.kvm);
    const listed = await deadLetters.list("deadletters", 10);
    assert.equal(listed.total, 1);
    assert.deepEqual(
      [listed.deadLetters[0]?.requestId, listed.deadLetters[0]?.reason, listed.deadLetters[0]?.attempts, listed.deadLetters[0]?.path],
      [id, "HTTP 503 (instance flaky)", 2, "/gen"],
    );

    failing = false;
    assert.deepEqual(await deadLetters.redrive("deadletters", [id, "unknown-id"], false), { redriven: [id], notFound: ["unknown-id"] });
    const done = await waitFor("the redriven request's answer", async () => {
      const outcome = await fx.outcome("deadletters", id);
      return outcome.state === AsyncResultState.done ? outcome : undefined;
    });
    assert.equal(done.body.toString(), "fine now");
    assert.equal(done.attempts, 1, "attempts count from zero after a redrive");
    assert.equal(await deadLetters.count("deadletters"), 0);
  });

  it("retries elsewhere a request whose instance dies mid-request, or leaves, without waiting for its timeout", async () => {
    const crashing = await instance("crashing");
    crashing.handler = (req) => {
      req.socket.destroy();
    };
    const hanging = await instance("hanging");
    hanging.handler = () => undefined;
    const healthy = await instance("healthy", 5);
    let state: AsyncServicesState = asyncService(
      "vanish",
      { crashing: crashing.endpoint, hanging: hanging.endpoint, healthy: healthy.endpoint },
      { ...TEST_QUEUE, maxAttempts: 5, requestTimeoutMs: 60_000 },
      1,
    );
    const dispatchers = fx.dispatchers(() => state);
    await dispatchers.syncAll();
    const ids = await Promise.all(Array.from({ length: 12 }, () => fx.submit("vanish", "{}")));
    await waitFor("a request stuck on the hanging instance", () => hanging.inFlight > 0);
    // The hanging instance fails (its process is gone, say): what it held is retried at once.
    const { hanging: _gone, ...others } = state.vanish!.instances;
    state = { vanish: { ...state.vanish!, instances: others } };
    await dispatchers.sync("vanish");
    const started = Date.now();
    const outcomes = await Promise.all(ids.map((id) => fx.outcome("vanish", id)));
    assert.ok(Date.now() - started < 10_000, "no attempt waited for the 60 s timeout");
    for (const outcome of outcomes) {
      assert.equal(outcome.state, AsyncResultState.done, outcome.error);
      assert.equal(outcome.instanceId, "healthy");
    }
    assert.ok(
      outcomes.some((outcome) => outcome.attempts > 1),
      "some requests were retried",
    );
  });

  it("fails an attempt that takes longer than request_timeout_ms", async () => {
    const slow = await instance("slow", 2_000);
    const state = asyncService("timeouts", { slow: slow.endpoint }, { ...TEST_QUEUE, maxAttempts: 1, requestTimeoutMs: 200 });
    const dispatchers = fx.dispatchers(() => state);
    await dispatchers.syncAll();
    const outcome = await fx.outcome("timeouts", await fx.submit("timeouts", "{}"));
    assert.equal(outcome.state, AsyncResultState.failed);
    assert.match(outcome.error, /no answer from .* within 200 ms/);
  });

  it("stores one outcome when a redelivery races a slow first attempt", async () => {
    const slow = await instance("slow-first", 2_500);
    const fast = await instance("fast-second", 0);
    // The first dispatcher stops keeping its request alive (a process frozen, say): after the 1 s ack wait the
    // request is handed to the second, which answers first; the first attempt ends later and finds the outcome taken.
    const frozen = fx.dispatchers(() => asyncService("race", { "slow-first": slow.endpoint }, TEST_QUEUE, 1), { ackWaitMs: 3_600_000 });
    await frozen.syncAll();
    const id = await fx.submit("race", "{}");
    await waitFor("the first attempt running", () => slow.inFlight === 1);
    const rescuer = fx.dispatchers(() => asyncService("race", { "fast-second": fast.endpoint }));
    await rescuer.syncAll();
    const outcome = await fx.outcome("race", id);
    assert.equal(outcome.instanceId, "fast-second");
    await waitFor("the slow attempt finished", () => slow.inFlight === 0 && slow.hits === 1, { timeoutMs: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stored = (frozen.get("race")?.stats.done ?? 0) + (rescuer.get("race")?.stats.done ?? 0);
    assert.equal(stored, 1, "exactly one outcome stored");
    assert.equal((await fx.outcome("race", id)).instanceId, "fast-second", "the second answer did not overwrite the first");
    await waitFor("the queue empty", async () => (await fx.queued("race")) === 0);
  });

  it("keeps requests queued while the service has no instance, shows the backlog in the per-second samples, and dispatches them once one is Ready", async () => {
    let state = asyncService("zero", {});
    const dispatchers = fx.dispatchers(() => state);
    await dispatchers.syncAll();
    const ids = await Promise.all(Array.from({ length: 5 }, () => fx.submit("zero", "{}")));
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(await fx.queued("zero"), 5);

    const samples: QueueSample[] = [];
    const subscription = fx.bus.subscribe(queueSamples, (sample) => void samples.push(sample));
    const queues = {
      jsm: fx.jsm,
      services: () => state,
      dispatchers,
      deadLetters: new DeadLetters(fx.js, fx.jsm, fx.kvm),
      clock: Date.now,
    };
    const registry = new Registry();
    const sampler = new QueueSampler({
      source: "test",
      services: () => ["zero"],
      status: (service) => queueStatus(queues, service),
      failedAttempts: () => 0,
      publish: (sample) => fx.bus.publish(queueSamples.with(sample.service), sample),
      registry,
      logger: fx.logger,
    });
    sampler.start();
    const backlog = await waitFor("a sample of the backlog", () => samples.find((sample) => sample.service === "zero"));
    await sampler.stop();
    subscription.unsubscribe();
    assert.deepEqual(
      [backlog.length, backlog.readyInstances, backlog.inFlight, backlog.maxLength, backlog.durationMs, backlog.startMs % 1_000],
      [5, 0, 0, TEST_QUEUE.maxLength, 1_000, 0],
    );
    assert.ok(backlog.oldestAgeMs >= 300, `the oldest request waited ${backlog.oldestAgeMs} ms`);
    assert.match(await registry.metrics(), /eas_async_queue_length\{queue_service="zero"\} 5/);

    const late = await instance("late");
    state = asyncService("zero", { late: late.endpoint });
    await dispatchers.sync("zero");
    const outcomes = await Promise.all(ids.map((id) => fx.outcome("zero", id)));
    assert.ok(outcomes.every((outcome) => outcome.state === AsyncResultState.done));
  });

  it("loses nothing when a dispatcher stops with requests waiting and running: the next one finishes them", async () => {
    const steady = await instance("steady", 50);
    const state = asyncService("handover", { steady: steady.endpoint }, TEST_QUEUE, 2);
    const first = fx.dispatchers(() => state);
    await first.syncAll();
    const ids = await Promise.all(Array.from({ length: 30 }, () => fx.submit("handover", "{}")));
    await waitFor("some requests done", () => steady.hits >= 6);
    await first.stop();
    const second = fx.dispatchers(() => state);
    await second.syncAll();
    const outcomes = await Promise.all(ids.map((id) => fx.outcome("handover", id)));
    assert.equal(new Set(outcomes.map((outcome) => outcome.requestId)).size, 30);
    assert.ok(outcomes.every((outcome) => outcome.state === AsyncResultState.done));
  });

  it("posts the result to the request's callback URL, retrying a failed delivery", async () => {
    const echoing = await instance("cb-instance");
    const received: { requestId: string; body: Record<string, unknown> }[] = [];
    let refusals = 1;
    const receiver: Server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (chunk: Buffer) => chunks.push(chunk));
      req.on("end", () => {
        if (refusals-- > 0) {
          res.writeHead(500).end();
          return;
        }
        received.push({
          requestId: String(req.headers["x-eas-queueservice-request-id"]),
          body: JSON.parse(Buffer.concat(chunks).toString()) as Record<string, unknown>,
        });
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
    const callbacks = new CallbackWorker(
      fx.js,
      { attempts: 3, timeoutMs: 2_000, backoff: { baseMs: 50, maxMs: 100 }, concurrency: 4 },
      fx.logger,
    );
    callbacks.start();
    try {
      const state = asyncService("callbacks", { "cb-instance": echoing.endpoint });
      await fx.dispatchers(() => state).syncAll();
      const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
      const id = await fx.submit("callbacks", '{"hello":1}', { callbackUrl: url });
      await waitFor("the callback", () => received.length === 1);
      assert.equal(received[0]?.requestId, id);
      assert.equal(received[0]?.body.service, "callbacks");
      assert.equal(received[0]?.body.status, "done");
      assert.equal(received[0]?.body.code, 200);
      assert.match(String(received[0]?.body.body), /hello/);
      assert.equal(callbacks.delivered.ok, 1);
    } finally {
      await callbacks.stop();
      receiver.close();
    }
  });
});

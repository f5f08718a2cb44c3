import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { after, describe, it } from "node:test";
import { request } from "undici";
import { waitFor } from "@eas/testing";
import type { GatewayErrorBody } from "./errors.js";
import { echo, routeEntry, sleep, startBackend, startGateway, type TestBackend, type TestGateway } from "./test-support.js";

/** A backend that holds every request until `releaseAll()`. */
async function holdingBackend(id: string): Promise<TestBackend & { held: ServerResponse[]; releaseAll(): void }> {
  const held: ServerResponse[] = [];
  const backend = await startBackend(id, (_req: IncomingMessage, res: ServerResponse) => {
    held.push(res);
  });
  return Object.assign(backend, {
    held,
    releaseAll() {
      for (const res of held.splice(0)) res.end(id);
    },
  });
}

describe("gateway: balancing, queueing, retries and route changes", () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  async function gateway(...args: Parameters<typeof startGateway>): Promise<TestGateway> {
    const gw = await startGateway(...args);
    cleanups.push(() => gw.close());
    return gw;
  }
  async function backendOf<T extends TestBackend>(start: Promise<T>): Promise<T> {
    const backend = await start;
    cleanups.push(() => backend.close());
    return backend;
  }

  it("builds a service's route, instances included, when the route appears, not at its first request", async () => {
    const backend = await backendOf(startBackend("early"));
    const gw = await gateway([routeEntry("early", [backend.route()])]);
    const expected = { queued: 0, instances: [{ id: "early", endpoint: backend.endpoint, outstanding: 0, ejected: false }], draining: [] };
    assert.deepEqual(gw.gateway.snapshot("early"), expected);
    gw.routes.set(routeEntry("later", [backend.route()]));
    assert.deepEqual(gw.gateway.snapshot("later"), expected);
    gw.routes.delete("later");
    assert.equal(gw.gateway.snapshot("later"), undefined);
    assert.equal(backend.hits, 0);
  });

  it("spreads load over 3 instances by outstanding count", async () => {
    const backends = await Promise.all(["a", "b", "c"].map((id) => backendOf(holdingBackend(id))));
    const gw = await gateway([
      routeEntry(
        "lb",
        backends.map((b) => b.route()),
      ),
    ]);
    const pending: Promise<unknown>[] = [];
    // First a alone gets 3 long requests; then b and c join: the next 9 requests must fill b and c up to a's 3
    // before a gets any more (round robin would have given a 3 of them), ending at 4 each.
    gw.routes.set(routeEntry("lb", [backends[0]!.route()]));
    for (let k = 0; k < 3; k++) pending.push(gw.call("/api/predict/lb"));
    await waitFor("a holds 3", () => backends[0]!.held.length === 3, { timeoutMs: 5_000 });
    gw.routes.set(
      routeEntry(
        "lb",
        backends.map((b) => b.route()),
      ),
    );
    for (let k = 0; k < 9; k++) {
      pending.push(gw.call("/api/predict/lb"));
      await waitFor(`request ${k} arrived`, () => backends.reduce((n, b) => n + b.held.length, 0) === 4 + k, { timeoutMs: 5_000 });
    }
    assert.deepEqual(
      backends.map((b) => b.held.length),
      [4, 4, 4],
    );
    assert.ok(backends[1]!.held.length >= 3 && backends[2]!.held.length >= 3);
    assert.deepEqual(
      gw.gateway.snapshot("lb")?.instances.map((i) => i.outstanding),
      [4, 4, 4],
    );
    for (const b of backends) b.releaseAll();
    const responses = (await Promise.all(pending)) as { status: number }[];
    assert.ok(responses.every((r) => r.status === 200));
    assert.deepEqual(
      gw.gateway.snapshot("lb")?.instances.map((i) => i.outstanding),
      [0, 0, 0],
    );
  });

  it("queues past maxConcurrency and answers 450 once the queue is full", async () => {
    const backend = await backendOf(holdingBackend("q"));
    const gw = await gateway([routeEntry("burst", [backend.route()], { maxConcurrency: 2, maxQueueSize: 3 })]);
    let refused = 0;
    const burst = Array.from({ length: 10 }, () =>
      gw.call("/api/predict/burst").then((response) => {
        if (response.status === 450) refused++;
        return response;
      }),
    );
    // Every request has arrived (a late one must not find a slot freed by the releases below).
    await waitFor(
      "2 in flight, 3 queued, 5 refused",
      () => backend.held.length === 2 && gw.gateway.snapshot("burst")?.queued === 3 && refused === 5,
      { timeoutMs: 5_000 },
    );
    // Release in waves: each freed slot takes the next queued request.
    const release = setInterval(() => backend.releaseAll(), 20);
    const responses = await Promise.all(burst);
    clearInterval(release);
    const statuses = responses.map((r) => r.status).sort();
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 450, 450, 450, 450, 450]);
    const full = responses.find((r) => r.status === 450)!;
    assert.equal(full.json<GatewayErrorBody>().error.code, "QueueFull");
    assert.equal(backend.hits, 5);
  });

  it("counts time spent queued against the timeout", async () => {
    const backend = await backendOf(holdingBackend("t"));
    const gw = await gateway([routeEntry("wait", [backend.route()], { maxConcurrency: 1, maxQueueSize: 5, keepaliveMs: 200 })]);
    const first = gw.call("/api/predict/wait");
    await waitFor("first in flight", () => backend.held.length === 1, { timeoutMs: 5_000 });
    const queued = await gw.call("/api/predict/wait");
    assert.equal(queued.status, 504);
    assert.equal(gw.gateway.snapshot("wait")?.queued, 0);
    assert.equal((await first).status, 504);
    backend.releaseAll();
  });

  it("retries once on another instance when the connection is refused, body included", async () => {
    const live = await backendOf(startBackend("live"));
    const dead = await startBackend("dead");
    await dead.close();
    const gw = await gateway([routeEntry("retry", [dead.route(), live.route()])]);
    for (let k = 0; k < 6; k++) {
      const response = await gw.call("/api/predict/retry/p", { body: `payload-${k}` });
      assert.equal(response.status, 200);
      assert.equal(response.headers["x-eas-instance"], "live");
      assert.equal(response.json<{ body: string }>().body, `payload-${k}`);
    }
    // After the first refusal the dead instance is ejected, so later requests go straight to the live one.
    assert.equal(gw.gateway.snapshot("retry")?.instances.find((i) => i.id === "dead")?.ejected, true);
  });

  it("loses no request when an instance is removed from the table under load, then stopped", async () => {
    const a = await backendOf(startBackend("a", slowEcho));
    const b = await startBackend("b", slowEcho);
    const gw = await gateway([routeEntry("rolling", [a.route(), b.route()], { maxConcurrency: 4, maxQueueSize: 100 })]);
    const failures: string[] = [];
    let completed = 0;
    let running = true;
    const loops = Array.from({ length: 8 }, async (_, n) => {
      while (running) {
        try {
          const response = await gw.call(`/api/predict/rolling/${n}`, { body: "x".repeat(100) });
          if (response.status !== 200) failures.push(`${response.status} ${response.text}`);
        } catch (err) {
          failures.push(String(err));
        }
        completed++;
      }
    });
    await waitFor("b served traffic", () => b.hits > 20, { timeoutMs: 10_000 });
    // The rolling-update order: the routing update first, then the old instance stops.
    gw.routes.update("rolling", (entry) => ({ ...entry, instances: [a.route()] }));
    assert.equal(gw.gateway.snapshot("rolling")?.instances.length, 1);
    // Stop b once nothing is in flight to it: a request already written to an idle-looking
    // connection would be reset by a server that closes idle connections as it stops.
    await waitFor("b drained", () => gw.gateway.snapshot("rolling")?.draining.length === 0, { timeoutMs: 5_000 });
    const hitsAtRemoval = b.hits;
    await new Promise<void>((resolve) => b.server.close(() => resolve()));
    const afterRemoval = completed;
    await waitFor("traffic continued on a", () => completed > afterRemoval + 100, { timeoutMs: 10_000 });
    running = false;
    await Promise.all(loops);
    assert.deepEqual(failures, []);
    assert.equal(b.hits, hitsAtRemoval, "nothing new reached the removed instance");
  });

  it("loses no idempotent request when an instance dies before the table says so", async () => {
    const a = await backendOf(startBackend("a2", slowEcho));
    const b = await startBackend("b2", slowEcho);
    const gw = await gateway([routeEntry("crash", [a.route(), b.route()])]);
    const failures: string[] = [];
    let completed = 0;
    let running = true;
    const loops = Array.from({ length: 6 }, async () => {
      while (running) {
        const response = await gw.call("/api/predict/crash", { method: "GET" });
        if (response.status !== 200) failures.push(`${response.status} ${response.text}`);
        completed++;
      }
    });
    await waitFor("b served traffic", () => b.hits > 20, { timeoutMs: 10_000 });
    // b dies abruptly (its connections, busy or idle, are reset) and stays in the table: requests on
    // its sockets fail without a response and are replayed elsewhere (GET), new connections are
    // refused and replayed too, and b is ejected.
    await b.close();
    const afterStop = completed;
    await waitFor("traffic continued", () => completed > afterStop + 100, { timeoutMs: 10_000 });
    running = false;
    await Promise.all(loops);
    assert.deepEqual(failures, []);
    assert.equal(gw.gateway.snapshot("crash")?.instances.find((i) => i.id === "b2")?.ejected, true);
  });

  it("dispatches queued requests when an instance is added, and fails them when the service is stopped", async () => {
    const gw = await gateway([routeEntry("cold", [], { state: "starting" })]);
    const busy = await backendOf(holdingBackend("busy"));
    gw.routes.set(routeEntry("cold", [busy.route()], { maxConcurrency: 1, maxQueueSize: 5 }));
    const first = gw.call("/api/predict/cold");
    await waitFor("first in flight", () => busy.held.length === 1, { timeoutMs: 5_000 });
    const second = gw.call("/api/predict/cold");
    await waitFor("second queued", () => gw.gateway.snapshot("cold")?.queued === 1, { timeoutMs: 5_000 });
    const fresh = await backendOf(startBackend("fresh"));
    gw.routes.update("cold", (entry) => ({ ...entry, instances: [...entry.instances, fresh.route()] }));
    const secondResponse = await second;
    assert.equal(secondResponse.status, 200);
    assert.equal(secondResponse.headers["x-eas-instance"], "fresh");

    gw.routes.update("cold", (entry) => ({ ...entry, instances: [busy.route()] }));
    const third = gw.call("/api/predict/cold");
    await waitFor("third queued", () => gw.gateway.snapshot("cold")?.queued === 1, { timeoutMs: 5_000 });
    gw.routes.update("cold", (entry) => ({ ...entry, state: "stopped", instances: [] }));
    const thirdResponse = await third;
    assert.equal(thirdResponse.status, 503);
    assert.equal(thirdResponse.headers["retry-after"], "1");
    // The request in flight on the removed instance still completes.
    busy.releaseAll();
    assert.equal((await first).status, 200);
  });

  it("frees the instance slot when the client goes away, so the next request is served", async () => {
    const backend = await backendOf(holdingBackend("abandon"));
    const gw = await gateway([routeEntry("abandon", [backend.route()], { maxConcurrency: 1, maxQueueSize: 5 })]);
    const controller = new AbortController();
    const abandoned = request(`${gw.url}/api/predict/abandon`, {
      dispatcher: gw.agent,
      headers: { authorization: "secret-token" },
      signal: controller.signal,
    });
    await waitFor("first in flight", () => backend.held.length === 1, { timeoutMs: 5_000 });
    const upstreamClosed = new Promise<void>((resolve) => backend.held[0]!.once("close", () => resolve()));
    controller.abort();
    await assert.rejects(abandoned);
    await upstreamClosed;
    await waitFor("slot freed", () => gw.gateway.snapshot("abandon")?.instances[0]?.outstanding === 0, { timeoutMs: 5_000 });
    const next = gw.call("/api/predict/abandon");
    await waitFor("next in flight", () => backend.held.length === 2, { timeoutMs: 5_000 });
    backend.releaseAll();
    assert.equal((await next).status, 200);
  });

  it("close() lets in-flight requests finish", async () => {
    const backend = await backendOf(holdingBackend("drain"));
    const gw = await startGateway([routeEntry("drain", [backend.route()])]);
    const inFlight = gw.call("/api/predict/drain");
    await waitFor("in flight", () => backend.held.length === 1, { timeoutMs: 5_000 });
    const closing = gw.gateway.close();
    await sleep(50);
    backend.releaseAll();
    const response = await inFlight;
    assert.equal(response.status, 200);
    assert.equal(response.text, "drain");
    await closing;
    await gw.agent.close();
  });
});

/** Echo after a few ms, so requests overlap. */
function slowEcho(req: IncomingMessage, res: ServerResponse, backend: TestBackend): void {
  setTimeout(() => echo(req, res, backend), 2);
}

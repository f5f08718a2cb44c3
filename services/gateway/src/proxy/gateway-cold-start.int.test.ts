import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { GatewayErrorBody } from "./errors.js";
import { routeEntry, sleep, startBackend, startGateway, type TestBackend, type TestGateway } from "./test-support.js";

describe("gateway: a service at zero instances that scales from zero", () => {
  let backend: TestBackend;
  let gw: TestGateway;
  const woken: { service: string; held: number }[] = [];

  before(async () => {
    backend = await startBackend("i-cold");
    gw = await startGateway(
      [
        routeEntry("cold", [], { scaleFromZero: true, keepaliveMs: 200 }),
        routeEntry("brief", [], { scaleFromZero: true }),
        routeEntry("full", [], { scaleFromZero: true }),
        routeEntry("plain", []),
        routeEntry("parked", [], { scaleFromZero: true, state: "stopped" }),
        routeEntry("unplaceable", [], { scaleFromZero: true, state: "waiting", stateReason: "0/2 nodes: 2 insufficient cpu" }),
      ],
      { coldStart: { maxHeldRequests: 3, maxWaitMs: 400, onHold: (service, held) => woken.push({ service, held }) } },
    );
  });

  after(async () => {
    await gw.close();
    await backend.close();
  });

  it("holds requests, tells the autoscaler at once, and sends them all once an instance is Ready; the request timeout starts then", async () => {
    const sent = [gw.call("/api/predict/cold", { body: "1" }), gw.call("/api/predict/cold", { body: "2" })];
    await sleep(300); // longer than the route's 200 ms request timeout: a held request is not timed out by it
    assert.deepEqual(
      woken.filter((w) => w.service === "cold").slice(0, 1),
      [{ service: "cold", held: 1 }],
      "told with the first held request",
    );
    assert.equal(gw.gateway.load().find((l) => l.service === "cold")?.queued, 2, "held requests count as queued in the samples");
    gw.routes.update("cold", (entry) => ({ ...entry, instances: [backend.route()], state: "running" }));
    const answers = await Promise.all(sent);
    assert.deepEqual(
      answers.map((a) => a.status),
      [200, 200],
    );
    assert.deepEqual(answers.map((a) => a.json<{ body: string }>().body).sort(), ["1", "2"]);
  });

  it("answers 503 with Retry-After when no instance is Ready within the wait", async () => {
    const started = Date.now();
    const answer = await gw.call("/api/predict/brief");
    assert.equal(answer.status, 503);
    assert.ok(Date.now() - started >= 380, "after the wait");
    assert.equal(answer.headers["retry-after"], "1");
    assert.match(answer.json<GatewayErrorBody>().error.message, /scaling up from zero and had no ready instance within 400 ms/);
  });

  it("answers 503 with Retry-After past the number of held requests", async () => {
    const held = [1, 2, 3].map(() => gw.call("/api/predict/full"));
    await sleep(50);
    const refused = await gw.call("/api/predict/full");
    assert.equal(refused.status, 503);
    assert.equal(refused.headers["retry-after"], "1");
    assert.match(refused.json<GatewayErrorBody>().error.message, /already holds 3 requests/);
    gw.routes.update("full", (entry) => ({ ...entry, instances: [backend.route()], state: "running" }));
    assert.deepEqual(
      (await Promise.all(held)).map((a) => a.status),
      [200, 200, 200],
    );
  });

  it("does not hold for a service without scale from zero, nor for a stopped one, nor for one that cannot be placed", async () => {
    assert.equal((await gw.call("/api/predict/plain")).status, 503);
    assert.equal((await gw.call("/api/predict/parked")).status, 503);
    const unplaceable = await gw.call("/api/predict/unplaceable");
    assert.equal(unplaceable.status, 503);
    assert.match(
      unplaceable.json<GatewayErrorBody>().error.message,
      /no ready instance \(cannot be placed: 0\/2 nodes: 2 insufficient cpu\)/,
    );
    assert.equal(woken.filter((w) => ["plain", "parked", "unplaceable"].includes(w.service)).length, 0);
  });

  it("still checks the token before holding", async () => {
    assert.equal((await gw.call("/api/predict/cold", { token: "wrong" })).status, 401);
  });
});

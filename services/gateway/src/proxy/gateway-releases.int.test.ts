import assert from "node:assert/strict";
import type { IncomingMessage, ServerResponse } from "node:http";
import { Readable } from "node:stream";
import { after, describe, it } from "node:test";
import { request } from "undici";
import { waitFor } from "@eas/testing";
import { tokenDigest } from "./auth.js";
import type { GatewayErrorBody } from "./errors.js";
import type { MirrorOutcome } from "./mirror.js";
import type { GatewayMetricsSink } from "./observation.js";
import type { GroupEntry, RouteEntry } from "./route-table.js";
import { routeEntry, startBackend, startGateway, type CallResult, type TestBackend, type TestGateway } from "./test-support.js";

/** Runs `count` calls, `concurrency` at a time. */
async function callMany(count: number, concurrency: number, call: (k: number) => Promise<CallResult>): Promise<CallResult[]> {
  const results: CallResult[] = new Array(count);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const k = next++;
        results[k] = await call(k);
      }
    }),
  );
  return results;
}

const digest = (token: string) => tokenDigest(token).toString("hex");
const errorCode = (result: CallResult) => result.json<GatewayErrorBody>().error.code;

describe("gateway: canary weights, pinned versions, service groups, mirroring", () => {
  const cleanups: (() => Promise<void>)[] = [];
  after(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });
  async function gateway(...args: Parameters<typeof startGateway>): Promise<TestGateway> {
    const gw = await startGateway(...args);
    cleanups.push(() => gw.close());
    return gw;
  }
  async function backend(id: string, handler?: Parameters<typeof startBackend>[1]): Promise<TestBackend> {
    const started = await startBackend(id, handler);
    cleanups.push(() => started.close());
    return started;
  }

  it("sends exactly the canary's weight of the requests to it, only the stable version's instances the rest", async () => {
    const [s1, s2, c] = await Promise.all([backend("s1"), backend("s2"), backend("c")]);
    const gw = await gateway([
      routeEntry("iris", [s1.route(1), s2.route(1), c.route(2)], { canary: { version: 2, weight: 10 }, latestVersion: 2 }),
    ]);
    const results = await callMany(2_000, 16, () => gw.call("/api/predict/iris", { body: "x" }));
    assert.ok(results.every((r) => r.status === 200));
    for (const r of results) assert.equal(r.headers["x-eas-version"], r.headers["x-eas-instance"] === "c" ? "2" : "1");
    // Exact over every deck of 100 draws: 2,000 requests are 20 decks.
    assert.equal(c.hits, 200);
    assert.equal(s1.hits + s2.hits, 1_800);

    gw.routes.update("iris", (entry) => ({ ...entry, canary: { version: 2, weight: 25 } }));
    const before = c.hits;
    await callMany(400, 16, () => gw.call("/api/predict/iris"));
    assert.equal(c.hits - before, 100);
  });

  it("X-Eas-Version pins a request to its version, whatever the weights; unknown, unready and malformed versions get clear errors", async () => {
    const [s, c] = await Promise.all([backend("pin-s"), backend("pin-c")]);
    const gw = await gateway([routeEntry("pin", [s.route(1), c.route(2)], { canary: { version: 2, weight: 0 }, latestVersion: 3 })]);
    const pinned = await callMany(50, 8, () => gw.call("/api/predict/pin", { headers: { "x-eas-version": "2" } }));
    assert.ok(pinned.every((r) => r.status === 200 && r.headers["x-eas-instance"] === "pin-c"));
    const unpinned = await callMany(50, 8, () => gw.call("/api/predict/pin"));
    assert.ok(
      unpinned.every((r) => r.headers["x-eas-instance"] === "pin-s"),
      "weight 0: only pinned requests reach the canary",
    );
    const toStable = await gw.call("/api/predict/pin", { headers: { "X-EAS-Version": " 1 " } });
    assert.equal(toStable.headers["x-eas-instance"], "pin-s");
    // The header is a directive to the gateway, not forwarded.
    assert.equal(toStable.json<{ headers: Record<string, string> }>().headers["x-eas-version"], undefined);

    const unknown = await gw.call("/api/predict/pin", { headers: { "x-eas-version": "7" } });
    assert.equal(unknown.status, 404);
    assert.equal(errorCode(unknown), "VersionNotFound");
    assert.match(unknown.json<GatewayErrorBody>().error.message, /no version 7 \(latest is 3\)/);
    const unready = await gw.call("/api/predict/pin", { headers: { "x-eas-version": "3" } });
    assert.equal(unready.status, 503);
    assert.equal(errorCode(unready), "VersionUnavailable");
    assert.equal(unready.headers["retry-after"], "1");
    for (const bad of ["0", "-1", "two", "1.5", "1e3"]) {
      const malformed = await gw.call("/api/predict/pin", { headers: { "x-eas-version": bad } });
      assert.equal(malformed.status, 400, bad);
      assert.equal(errorCode(malformed), "BadRequest");
      assert.match(malformed.json<GatewayErrorBody>().error.message, /X-Eas-Version/);
    }
    // The token comes first: a pinned request without it is 401.
    assert.equal((await gw.call("/api/predict/pin", { token: null, headers: { "x-eas-version": "2" } })).status, 401);
  });

  it("a canary without a Ready instance gets nothing, and a stable version without one leaves every request to the canary", async () => {
    const [s, c] = await Promise.all([backend("nr-s"), backend("nr-c")]);
    const canary = { version: 2, weight: 50 };
    const gw = await gateway([routeEntry("nr", [s.route(1)], { canary, latestVersion: 2 })]);
    const alone = await callMany(100, 8, () => gw.call("/api/predict/nr"));
    assert.ok(alone.every((r) => r.status === 200 && r.headers["x-eas-instance"] === "nr-s"));

    gw.routes.set(routeEntry("nr", [c.route(2)], { canary, latestVersion: 2 }));
    const canaryOnly = await callMany(100, 8, () => gw.call("/api/predict/nr"));
    assert.ok(canaryOnly.every((r) => r.status === 200 && r.headers["x-eas-instance"] === "nr-c"));

    // Weight 0: the canary is for pinned requests only, even while the stable version has no instance.
    gw.routes.set(routeEntry("nr", [c.route(2)], { canary: { version: 2, weight: 0 }, latestVersion: 2, state: "running" }));
    const none = await gw.call("/api/predict/nr");
    assert.equal(none.status, 503);
    assert.equal(errorCode(none), "ServiceUnavailable");
  });

  it("an aborted canary's version (withdrawn) gets no request that does not pin it; a promoted one serves as stable", async () => {
    const [s, c] = await Promise.all([backend("ab-s"), backend("ab-c")]);
    const gw = await gateway([routeEntry("ab", [s.route(1), c.route(2)], { withdrawn: [2], latestVersion: 2 })]);
    const results = await callMany(60, 8, () => gw.call("/api/predict/ab"));
    assert.ok(results.every((r) => r.headers["x-eas-instance"] === "ab-s"));
    assert.equal((await gw.call("/api/predict/ab", { headers: { "x-eas-version": "2" } })).headers["x-eas-instance"], "ab-c");
    // Promoted: no canary, nothing withdrawn: both versions are stable while the old one drains.
    gw.routes.set(routeEntry("ab", [s.route(1), c.route(2)], { latestVersion: 2 }));
    const both = await callMany(60, 8, () => gw.call("/api/predict/ab"));
    assert.ok(both.some((r) => r.headers["x-eas-instance"] === "ab-c") && both.some((r) => r.headers["x-eas-instance"] === "ab-s"));
  });

  it("requests queued for the canary go to the stable version when the canary is aborted, none fails", async () => {
    const held: ServerResponse[] = [];
    const c = await backend("q-c", (_req: IncomingMessage, res: ServerResponse) => void held.push(res));
    const s = await backend("q-s");
    const gw = await gateway([
      routeEntry("q", [s.route(1), c.route(2)], { canary: { version: 2, weight: 100 }, latestVersion: 2, maxConcurrency: 1 }),
    ]);
    const first = gw.call("/api/predict/q");
    await waitFor("the canary holds one request", () => held.length === 1, { timeoutMs: 5_000 });
    const queued = [gw.call("/api/predict/q"), gw.call("/api/predict/q"), gw.call("/api/predict/q")];
    await waitFor("three requests wait for the canary", () => gw.gateway.snapshot("q")?.queued === 3, { timeoutMs: 5_000 });
    gw.routes.set(routeEntry("q", [s.route(1), c.route(2)], { withdrawn: [2], latestVersion: 2, maxConcurrency: 1 }));
    const moved = await Promise.all(queued);
    assert.deepEqual(
      moved.map((r) => [r.status, r.headers["x-eas-instance"]]),
      [
        [200, "q-s"],
        [200, "q-s"],
        [200, "q-s"],
      ],
    );
    held[0]!.end("done");
    assert.equal((await first).status, 200);
  });

  describe("service groups", () => {
    const group = (members: GroupEntry["members"]): GroupEntry => ({ group: "duo", tokenSha256: digest("group-token"), members });

    it("spreads a group's requests over its members by weight, with the group's token only; each member keeps its own", async () => {
      const [a, b] = await Promise.all([backend("ga"), backend("gb")]);
      const entries: RouteEntry[] = [
        routeEntry("a", [a.route()], { tokenSha256: digest("token-a") }),
        routeEntry("b", [b.route()], { tokenSha256: digest("token-b") }),
      ];
      const gw = await gateway(entries);
      gw.routes.setGroup(
        group([
          { service: "a", weight: 70 },
          { service: "b", weight: 30 },
        ]),
      );
      const results = await callMany(1_000, 16, () => gw.call("/api/predict/duo/v1/infer", { token: "group-token", body: "{}" }));
      assert.ok(results.every((r) => r.status === 200));
      assert.equal(a.hits, 700);
      assert.equal(b.hits, 300);
      for (const r of results) assert.equal(r.headers["x-eas-service"], r.headers["x-eas-instance"] === "ga" ? "a" : "b");
      assert.equal(results[0]!.json<{ url: string }>().url, "/v1/infer");

      assert.equal((await gw.call("/api/predict/duo", { token: "token-a" })).status, 401, "a member's token does not open the group");
      assert.equal((await gw.call("/api/predict/a", { token: "group-token" })).status, 401, "the group's token does not open a member");
      assert.equal((await gw.call("/api/predict/a", { token: "token-a" })).status, 200);
      const pinned = await gw.call("/api/predict/duo", { token: "group-token", headers: { "x-eas-version": "1" } });
      assert.equal(pinned.status, 400);
      assert.match(pinned.json<GatewayErrorBody>().error.message, /service group/);
    });

    it("a member without a Ready instance takes no share; a group with none answers 503", async () => {
      const a = await backend("ga2");
      const gw = await gateway([routeEntry("a", [a.route()]), routeEntry("b", [])]);
      gw.routes.setGroup(
        group([
          { service: "a", weight: 10 },
          { service: "b", weight: 90 },
          { service: "deleted", weight: 50 },
        ]),
      );
      const results = await callMany(100, 8, () => gw.call("/api/predict/duo", { token: "group-token" }));
      assert.ok(results.every((r) => r.status === 200 && r.headers["x-eas-service"] === "a"));
      gw.routes.set(routeEntry("a", []));
      const none = await gw.call("/api/predict/duo", { token: "group-token" });
      assert.equal(none.status, 503);
      assert.equal(errorCode(none), "ServiceUnavailable");
      assert.match(none.json<GatewayErrorBody>().error.message, /service group duo has no member with a ready instance/);
      gw.routes.deleteGroup("duo");
      assert.equal((await gw.call("/api/predict/duo", { token: "group-token" })).status, 404);
    });
  });

  describe("mirroring", () => {
    /** Counts what the gateway reports for mirrored copies and for each service's answers. */
    function recordingMetrics() {
      const mirror: Record<MirrorOutcome, number> = { sent: 0, ok: 0, failed: 0, shed: 0 };
      const answered = new Map<string, number>();
      const sink: GatewayMetricsSink = {
        observe: (service) => answered.set(service, (answered.get(service) ?? 0) + 1),
        mirrored: (_service, _target, outcome) => void mirror[outcome]++,
      };
      return { mirror, answered, sink };
    }

    it("copies exactly the ratio of requests, bodies and headers included, and measures the copies' answers", async () => {
      const primary = await backend("m-primary");
      const seen: { body: string; mirrorOf: string | undefined; url: string | undefined }[] = [];
      const shadow = await backend("m-shadow", (req, res) => {
        const chunks: Buffer[] = [];
        req.on("data", (chunk: Buffer) => chunks.push(chunk));
        req.on("end", () => {
          seen.push({
            body: Buffer.concat(chunks).toString(),
            mirrorOf: req.headers["x-eas-mirror-of"] as string | undefined,
            url: req.url,
          });
          res.end("shadow");
        });
      });
      const metrics = recordingMetrics();
      const gw = await gateway(
        [
          routeEntry("main", [primary.route()], { mirror: { target: "shadow", targetVersion: 0, ratio: 20 } }),
          routeEntry("shadow", [shadow.route()], { tokenSha256: digest("shadow-token") }),
        ],
        { metrics: metrics.sink },
      );
      const results = await callMany(500, 8, (k) => gw.call(`/api/predict/main/score?k=${k}`, { body: `payload-${k}` }));
      assert.ok(results.every((r) => r.status === 200 && r.headers["x-eas-instance"] === "m-primary"));
      await waitFor("every copy answered", () => metrics.mirror.ok === 100, { timeoutMs: 10_000 });
      assert.deepEqual(metrics.mirror, { sent: 100, ok: 100, failed: 0, shed: 0 });
      assert.equal(seen.length, 100);
      for (const copy of seen) {
        assert.equal(copy.mirrorOf, "main");
        assert.equal(copy.body, `payload-${copy.url?.split("k=")[1]}`);
      }
      // The copies' answers are the shadow's traffic; the primary's count is its clients' requests only.
      assert.equal(metrics.answered.get("shadow"), 100);
      assert.equal(metrics.answered.get("main"), 500);

      // A chunked body (no Content-Length) is copied whole too.
      gw.routes.update("main", (entry) => ({ ...entry, mirror: { target: "shadow", targetVersion: 0, ratio: 100 } }));
      const chunked = await request(`${gw.url}/api/predict/main/score?k=chunked`, {
        dispatcher: gw.agent,
        method: "POST",
        headers: { authorization: "secret-token" },
        body: Readable.from([Buffer.from("payload-"), Buffer.from("chunked")]),
      });
      assert.equal(chunked.statusCode, 200);
      await chunked.body.dump();
      await waitFor("the chunked copy arrived", () => seen.length === 101, { timeoutMs: 5_000 });
      assert.equal(seen[100]!.body, "payload-chunked");
    });

    it("a stalled mirror sheds copies past the in-flight limit and the primary's latency does not move", async () => {
      const primary = await backend("s-primary");
      const stalled: ServerResponse[] = [];
      const shadow = await backend("s-shadow", (_req: IncomingMessage, res: ServerResponse) => void stalled.push(res));
      const metrics = recordingMetrics();
      const entries = [routeEntry("main", [primary.route()]), routeEntry("stall", [shadow.route()], { keepaliveMs: 60_000 })];
      const gw = await gateway(entries, { metrics: metrics.sink, mirrorMaxInFlight: 8 });
      const timed = async () => {
        const started = performance.now();
        const r = await gw.call("/api/predict/main", { body: "{}" });
        assert.equal(r.status, 200);
        return performance.now() - started;
      };
      const p99 = (latencies: number[]) => latencies.sort((x, y) => x - y)[Math.floor(latencies.length * 0.99)]!;
      // Alternating rounds without and with the mirror, so that load on the machine hits both alike.
      const without: number[] = [];
      const withMirror: number[] = [];
      for (let round = 0; round < 4; round++) {
        gw.routes.set(routeEntry("main", [primary.route()]));
        without.push(...(await Promise.all(Array.from({ length: 100 }, timed))));
        gw.routes.set(routeEntry("main", [primary.route()], { mirror: { target: "stall", targetVersion: 0, ratio: 50 } }));
        withMirror.push(...(await Promise.all(Array.from({ length: 100 }, timed))));
      }
      assert.equal(metrics.mirror.sent + metrics.mirror.shed, 200, "half of the 400 mirrored requests were chosen");
      assert.equal(metrics.mirror.sent, 8, "no more copies in flight than the limit");
      assert.equal(stalled.length, 8);
      assert.equal(metrics.mirror.ok + metrics.mirror.failed, 0);
      const [base, mirrored] = [p99(without), p99(withMirror)];
      assert.ok(
        mirrored <= base * 1.5 + 20,
        `primary p99 ${mirrored.toFixed(1)} ms with a stalled mirror vs ${base.toFixed(1)} ms without`,
      );
      for (const res of stalled) res.end();
      await waitFor("the stalled copies end", () => metrics.mirror.ok === 8, { timeoutMs: 5_000 });
    });

    it("a dead mirror (nothing listening) counts failed copies; a mirror without a Ready instance sheds them; the primary never notices", async () => {
      const primary = await backend("d-primary");
      const dead = await startBackend("d-dead");
      await dead.close();
      const metrics = recordingMetrics();
      const gw = await gateway(
        [
          routeEntry("main", [primary.route()], { mirror: { target: "dead", targetVersion: 0, ratio: 100 } }),
          routeEntry("dead", [dead.route()]),
        ],
        { metrics: metrics.sink },
      );
      const results = await callMany(20, 4, () => gw.call("/api/predict/main", { body: "{}" }));
      assert.ok(results.every((r) => r.status === 200));
      await waitFor("every copy failed", () => metrics.mirror.failed === 20, { timeoutMs: 10_000 });
      assert.equal(metrics.mirror.sent, 20);

      gw.routes.set(routeEntry("dead", []));
      const more = await callMany(10, 4, () => gw.call("/api/predict/main"));
      assert.ok(more.every((r) => r.status === 200));
      assert.equal(metrics.mirror.shed, 10);
    });

    it("copies only to the target version when one is set, and sheds a body over the copy limit", async () => {
      const primary = await backend("v-primary");
      const [v1, v2] = await Promise.all([backend("v-1"), backend("v-2")]);
      const metrics = recordingMetrics();
      const gw = await gateway(
        [
          routeEntry("main", [primary.route()], { mirror: { target: "next", targetVersion: 2, ratio: 100 } }),
          routeEntry("next", [v1.route(1), v2.route(2)]),
        ],
        { metrics: metrics.sink, mirrorMaxBodyBytes: 1_000 },
      );
      await callMany(20, 4, () => gw.call("/api/predict/main", { body: "small" }));
      await waitFor("copies answered", () => metrics.mirror.ok === 20, { timeoutMs: 5_000 });
      assert.equal(v2.hits, 20);
      assert.equal(v1.hits, 0);
      const large = await gw.call("/api/predict/main", { body: Buffer.alloc(5_000, 1) });
      assert.equal(large.status, 200);
      assert.equal(metrics.mirror.shed, 1);
      assert.equal(v2.hits, 20);
    });
  });
});

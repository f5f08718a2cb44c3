import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, it } from "node:test";
import { tokenDigest } from "./auth.js";
import type { GatewayErrorBody } from "./errors.js";
import { routeEntry, sleep, startBackend, startGateway, type TestBackend, type TestGateway } from "./test-support.js";

describe("gateway: proxying and error answers", () => {
  let backend: TestBackend;
  let slow: TestBackend;
  let gw: TestGateway;
  const observed: { service: string; status: number }[] = [];

  before(async () => {
    backend = await startBackend("i-1");
    slow = await startBackend("i-slow", (_req, res) => {
      setTimeout(() => res.end("late"), 1_000).unref();
    });
    gw = await startGateway(
      [
        routeEntry("echo", [backend.route()]),
        routeEntry("slow", [slow.route()], { keepaliveMs: 150 }),
        routeEntry("starting", [], { state: "starting" }),
        routeEntry("stopped", [], { state: "stopped" }),
        routeEntry("zero", [], { state: "scaled-to-zero" }),
        routeEntry("blocked", [], { state: "waiting", stateReason: "0/2 nodes: 2 insufficient cpu" }),
        routeEntry("limited", [backend.route()], { rateLimit: 5 }),
        routeEntry("small", [backend.route()]),
      ],
      { maxBodyBytes: 64 * 1024, metrics: { observe: (service, status) => observed.push({ service, status }) } },
    );
  });

  after(async () => {
    await gw.close();
    await backend.close();
    await slow.close();
  });

  it("proxies method, sub path, query and body, and names the instance and request id", async () => {
    const response = await gw.call("/api/predict/echo/v2/models/m/infer?verbose=1", {
      body: '{"x":1}',
      headers: { "content-type": "application/json" },
    });
    assert.equal(response.status, 200);
    const seen = response.json<{ method: string; url: string; body: string; headers: Record<string, string> }>();
    assert.equal(seen.method, "POST");
    assert.equal(seen.url, "/v2/models/m/infer?verbose=1");
    assert.equal(seen.body, '{"x":1}');
    assert.equal(seen.headers["content-type"], "application/json");
    assert.equal(seen.headers["x-forwarded-for"], "127.0.0.1");
    assert.match(seen.headers["x-request-id"] ?? "", /^[0-9a-f-]{36}$/);
    assert.equal(response.headers["x-eas-instance"], "i-1");
    assert.equal(response.headers["x-request-id"], seen.headers["x-request-id"]);
  });

  it("keeps a caller's X-Request-Id and maps an empty sub path to /", async () => {
    const response = await gw.call("/api/predict/echo", { headers: { "x-request-id": "req-42" } });
    assert.equal(response.json<{ url: string }>().url, "/");
    assert.equal(response.headers["x-request-id"], "req-42");
  });

  it("strips hop-by-hop headers, including those the Connection header names", async () => {
    const seen = await rawRequest(gw.url, "/api/predict/echo", {
      authorization: "secret-token",
      connection: "keep-alive, x-hop",
      "x-hop": "1",
      "keep-alive": "timeout=5",
      "x-end-to-end": "kept",
    });
    const headers = (JSON.parse(seen.body) as { headers: Record<string, string> }).headers;
    assert.equal(headers["x-hop"], undefined);
    assert.equal(headers["keep-alive"], undefined);
    assert.equal(headers["x-end-to-end"], "kept");
  });

  it("401 without a token, with a wrong one, and with a wrong one of another length", async () => {
    for (const token of [null, "secret-tokem", "s", "Bearer nope", "secret-token-but-longer"]) {
      const response = await gw.call("/api/predict/echo", { token });
      assert.equal(response.status, 401, String(token));
      assert.equal(response.json<GatewayErrorBody>().error.code, "Unauthorized");
    }
  });

  it("accepts the token with a Bearer prefix", async () => {
    const response = await gw.call("/api/predict/echo", { token: "Bearer secret-token" });
    assert.equal(response.status, 200);
  });

  it("answers Expect: 100-continue only once the request is admitted", async () => {
    const admitted = await expectContinueUpload(gw.url, "/api/predict/echo", "secret-token");
    assert.deepEqual(admitted, { continued: true, status: 200, body: "payload" });
    const refused = await expectContinueUpload(gw.url, "/api/predict/echo", "wrong");
    assert.deepEqual(refused, { continued: false, status: 401, body: undefined });
  });

  it("re-checks the token on a kept-alive connection once it rotates, and per service", async () => {
    assert.equal((await gw.call("/api/predict/echo")).status, 200);
    gw.routes.update("echo", (entry) => ({ ...entry, tokenSha256: tokenDigest("rotated-token").toString("hex") }));
    // Same agent, so the same kept-alive connection presents the old, now wrong, token.
    assert.equal((await gw.call("/api/predict/echo")).status, 401);
    assert.equal((await gw.call("/api/predict/echo", { token: "rotated-token" })).status, 200);
    // The connection proved "rotated-token" for echo; that says nothing about another service.
    assert.equal((await gw.call("/api/predict/small", { token: "rotated-token" })).status, 401);
    gw.routes.update("echo", (entry) => ({ ...entry, tokenSha256: tokenDigest("secret-token").toString("hex") }));
    assert.equal((await gw.call("/api/predict/echo")).status, 200);
  });

  it("passes the instance's own error statuses and HEAD responses through unchanged", async () => {
    const failing = await startBackend("i-500", (req, res) => {
      res.writeHead(req.method === "HEAD" ? 200 : 500, { "content-type": "text/plain", "content-length": "5" });
      res.end(req.method === "HEAD" ? undefined : "oops!");
    });
    gw.routes.set(routeEntry("failing", [failing.route()]));
    const response = await gw.call("/api/predict/failing");
    assert.equal(response.status, 500);
    assert.equal(response.text, "oops!");
    assert.equal(response.headers["x-eas-instance"], "i-500");
    const head = await gw.call("/api/predict/failing", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.headers["content-length"], "5");
    assert.equal(head.text, "");
    await failing.close();
  });

  it("streams a large chunked response intact", async () => {
    const size = 4 * 1024 * 1024;
    const big = await startBackend("i-big", (_req, res) => {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      let sent = 0;
      const pump = (): void => {
        while (sent < size) {
          const chunk = Buffer.alloc(64 * 1024, sent / (64 * 1024));
          sent += chunk.length;
          if (!res.write(chunk)) {
            res.once("drain", pump);
            return;
          }
        }
        res.end();
      };
      pump();
    });
    gw.routes.set(routeEntry("big", [big.route()]));
    const response = await gw.call("/api/predict/big");
    assert.equal(response.status, 200);
    // Bytes 0..63 (one value per 64 KiB chunk) are ASCII, so the text has one character per byte.
    assert.equal(response.text.length, size);
    assert.equal(response.text.charCodeAt(0), 0);
    assert.equal(response.text.charCodeAt(size / 2), 32);
    assert.equal(response.text.charCodeAt(size - 1), 63);
    await big.close();
  });

  it("404 for an unknown service and for paths outside /api/predict", async () => {
    const unknown = await gw.call("/api/predict/nope/x");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json<GatewayErrorBody>().error.code, "ServiceNotFound");
    for (const path of ["/", "/api/predict/", "/api/v2/services", "/favicon.ico"]) {
      const response = await gw.call(path);
      assert.equal(response.status, 404, path);
      assert.equal(response.json<GatewayErrorBody>().error.code, "NotFound");
    }
  });

  it("503 with Retry-After and the reason while a service has no Ready instance", async () => {
    for (const [service, reason] of [
      ["starting", "starting"],
      ["stopped", "stopped"],
      ["zero", "scaled to zero"],
      ["blocked", "cannot be placed: 0/2 nodes: 2 insufficient cpu"],
    ] as const) {
      const response = await gw.call(`/api/predict/${service}`);
      assert.equal(response.status, 503, service);
      assert.equal(response.headers["retry-after"], "1");
      assert.deepEqual(response.json<GatewayErrorBody>().error, {
        code: "ServiceUnavailable",
        message: `service ${service} has no ready instance (${reason})`,
      });
    }
  });

  it("413 when Content-Length exceeds the limit, before reading the body", async () => {
    const response = await gw.call("/api/predict/small", { body: Buffer.alloc(64 * 1024 + 1) });
    assert.equal(response.status, 413);
    assert.equal(response.json<GatewayErrorBody>().error.code, "PayloadTooLarge");
    const ok = await gw.call("/api/predict/small", { body: Buffer.alloc(64 * 1024, 97) });
    assert.equal(ok.status, 200);
  });

  it("413 when a chunked body grows past the limit while streaming", async () => {
    const hitsBefore = backend.hits;
    const result = await chunkedUpload(gw.url, "/api/predict/small", 8, 16 * 1024);
    assert.equal(result.status, 413);
    assert.equal((JSON.parse(result.body) as GatewayErrorBody).error.code, "PayloadTooLarge");
    const within = await chunkedUpload(gw.url, "/api/predict/small", 2, 16 * 1024);
    assert.equal(within.status, 200);
    assert.equal((JSON.parse(within.body) as { body: string }).body.length, 32 * 1024);
    assert.ok(backend.hits >= hitsBefore + 1);
  });

  it("429 with Retry-After past the rate limit", async () => {
    const statuses = await Promise.all(Array.from({ length: 12 }, () => gw.call("/api/predict/limited").then((r) => r.status)));
    const ok = statuses.filter((s) => s === 200).length;
    const limited = statuses.filter((s) => s === 429).length;
    // A bucket of 5 plus at most a token or two refilled while the burst is in flight.
    assert.ok(ok >= 5 && ok <= 7, `admitted ${ok}`);
    assert.equal(ok + limited, 12);
    const rejected = await gw.call("/api/predict/limited");
    if (rejected.status === 429) {
      assert.equal(rejected.json<GatewayErrorBody>().error.code, "RateLimited");
      assert.ok(Number(rejected.headers["retry-after"]) >= 1);
    }
  });

  it("504 when the instance does not answer within keepaliveMs", async () => {
    const started = Date.now();
    const response = await gw.call("/api/predict/slow");
    assert.equal(response.status, 504);
    assert.equal(response.json<GatewayErrorBody>().error.code, "UpstreamTimeout");
    assert.ok(Date.now() - started < 900, "answered before the instance did");
  });

  it("502 when the only instance refuses connections", async () => {
    const dead = await startBackend("i-dead");
    await dead.close();
    gw.routes.set(routeEntry("dead", [dead.route()]));
    const response = await gw.call("/api/predict/dead", { body: "x" });
    assert.equal(response.status, 502);
    assert.equal(response.json<GatewayErrorBody>().error.code, "BadGateway");
  });

  it("reports answered requests of known services to the metrics sink", async () => {
    await sleep(20);
    const statuses = new Set(observed.filter((o) => o.service === "echo").map((o) => o.status));
    assert.ok(statuses.has(200) && statuses.has(401), JSON.stringify([...statuses]));
    assert.ok(observed.some((o) => o.service === "slow" && o.status === 504));
    assert.ok(!observed.some((o) => o.service === "nope"));
  });
});

function rawRequest(base: string, path: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { headers, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** Sends `chunks` chunks of `size` bytes with Transfer-Encoding: chunked, one every few ms. */
function chunkedUpload(base: string, path: string, chunks: number, size: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method: "POST", headers: { authorization: "secret-token" }, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    // The gateway may answer 413 and close while chunks are still going out.
    req.on("error", (err: NodeJS.ErrnoException) => (err.code === "EPIPE" || err.code === "ECONNRESET" ? undefined : reject(err)));
    let sent = 0;
    const next = (): void => {
      if (sent === chunks) {
        req.end();
        return;
      }
      sent++;
      req.write(Buffer.alloc(size, 98));
      setTimeout(next, 2);
    };
    next();
  });
}

/** POSTs with `Expect: 100-continue`, sending the body only on `100 Continue`. */
function expectContinueUpload(
  base: string,
  path: string,
  token: string,
): Promise<{ continued: boolean; status: number; body: string | undefined }> {
  return new Promise((resolve, reject) => {
    let continued = false;
    const req = httpRequest(
      `${base}${path}`,
      { method: "POST", headers: { authorization: token, expect: "100-continue", "content-length": "7" }, agent: false },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (chunk: string) => (text += chunk));
        res.on("end", () =>
          resolve({ continued, status: res.statusCode ?? 0, body: continued ? (JSON.parse(text) as { body: string }).body : undefined }),
        );
      },
    );
    req.on("continue", () => {
      continued = true;
      req.end("payload");
    });
    req.on("error", reject);
    req.flushHeaders();
  });
}

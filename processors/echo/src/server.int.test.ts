import { describe, it, after } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { WebSocket } from "ws";
import { createEchoServer, EchoServerClosedError, type EchoServer, type EchoServerOptions } from "./server.js";
import { mulberry32 } from "@eas/processor-kit";
import { within } from "@eas/processor-kit/testing";
import { freePort } from "@eas/testing";

const servers: EchoServer[] = [];
after(async () => {
  await Promise.all(servers.map((server) => server.close()));
});

async function start(options: EchoServerOptions = {}): Promise<{ server: EchoServer; base: string; port: number }> {
  const server = createEchoServer({ instanceId: "inst-1", version: "v3", ...options });
  servers.push(server);
  const { port } = await server.listen(0, "127.0.0.1");
  return { server, base: `http://127.0.0.1:${port}`, port };
}

function post(url: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { method: "POST", body, headers, signal: AbortSignal.timeout(5_000) });
}

/** Reads a streamed response, recording when each chunk arrived. */
async function readChunks(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; contentType: string | undefined; chunks: Array<{ at: number; text: string }> }> {
  return await within(
    5_000,
    "streamed response",
    new Promise((resolve, reject) => {
      const started = performance.now();
      const req = request(url, { method: "POST", headers }, (res) => {
        const chunks: Array<{ at: number; text: string }> = [];
        res.setEncoding("utf8");
        res.on("data", (text: string) => chunks.push({ at: performance.now() - started, text }));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, contentType: res.headers["content-type"], chunks }));
        res.on("error", reject);
      });
      req.on("error", reject);
      req.end("streamed");
    }),
  );
}

describe("echo server", () => {
  it("echoes JSON bodies with path, instance and version", async () => {
    const { base } = await start();
    const res = await post(`${base}/api/predict/x?q=1`, `{"rows":[[1,2]]}`, { "content-type": "application/json" });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /application\/json/);
    assert.deepEqual(await res.json(), { echo: { rows: [[1, 2]] }, path: "/api/predict/x", instance: "inst-1", version: "v3" });
  });

  it("echoes text bodies as text", async () => {
    const { base } = await start();
    const res = await post(`${base}/`, "hello", { "content-type": "text/plain" });
    assert.deepEqual(await res.json(), { echo: "hello", path: "/", instance: "inst-1", version: "v3" });
  });

  it("answers GET /healthz", async () => {
    const { base } = await start();
    const res = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(5_000) });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: "ok" });
  });

  it("waits latency_ms before answering", async () => {
    const { base } = await start({ config: { latencyMs: 150 } });
    const started = performance.now();
    const res = await post(base, "x");
    const elapsed = performance.now() - started;
    assert.equal(res.status, 200);
    await res.arrayBuffer();
    assert.ok(elapsed >= 145, `answered after ${elapsed.toFixed(1)} ms`);
    assert.ok(elapsed < 2_000, `answered after ${elapsed.toFixed(1)} ms`);
  });

  it("POST /_echo/stall starts the stall now: it answers at once, requests arriving during it wait it out", async () => {
    const { base } = await start({ config: { latencyMs: 5, stallMs: 400, stallAfterMs: 0 } });
    await new Promise((resolve) => setTimeout(resolve, 450)); // the stall from listening is over
    let started = performance.now();
    await (await post(base, "before")).arrayBuffer();
    assert.ok(performance.now() - started < 300, "no stall before the trigger");
    started = performance.now();
    const trigger = await post(`${base}/_echo/stall`, "");
    assert.deepEqual(await trigger.json(), { stall: { ms: 400 } });
    assert.ok(performance.now() - started < 300, "the trigger itself is not stalled");
    await (await post(base, "during")).arrayBuffer();
    assert.ok(performance.now() - started >= 395, `stalled ${performance.now() - started} ms`);

    const none = await start();
    const refused = await post(`${none.base}/_echo/stall`, "");
    assert.equal(refused.status, 404);
    assert.equal(((await refused.json()) as { code: string }).code, "no_stall");
  });

  it("adds latency_jitter_ms drawn from the random source", async () => {
    // random() = 0.5 always: 100 + 0.5 * 200 = 200 ms.
    const { base } = await start({ config: { latencyMs: 100, latencyJitterMs: 200 }, random: () => 0.5 });
    const started = performance.now();
    await (await post(base, "x")).arrayBuffer();
    const elapsed = performance.now() - started;
    assert.ok(elapsed >= 195, `answered after ${elapsed.toFixed(1)} ms`);
  });

  it("pads answers to response_bytes", async () => {
    const { base } = await start({ config: { responseBytes: 4096 } });
    const res = await post(`${base}/p`, `{"a":1}`, { "content-type": "application/json" });
    assert.equal(res.headers.get("content-length"), "4096");
    const text = await res.text();
    assert.equal(Buffer.byteLength(text), 4096);
    const body = JSON.parse(text) as { echo: unknown; pad: string };
    assert.deepEqual(body.echo, { a: 1 });
    assert.match(body.pad, /^x+$/);
  });

  it("fails at failure_rate, reproducibly with a seeded random source", async () => {
    const { base } = await start({ config: { failureRate: 0.3 }, random: mulberry32(42) });
    const expected = mulberry32(42);
    const statuses: number[] = [];
    const expectedStatuses: number[] = [];
    // Sequential on purpose: each request draws exactly one number, in order.
    for (let i = 0; i < 60; i += 1) {
      const res = await post(base, `${i}`);
      statuses.push(res.status);
      expectedStatuses.push(expected() < 0.3 ? 500 : 200);
      const body = (await res.json()) as { code?: string };
      if (res.status === 500) assert.equal(body.code, "injected_failure");
    }
    assert.deepEqual(statuses, expectedStatuses);
    const failures = statuses.filter((status) => status === 500).length;
    assert.ok(failures > 5 && failures < 35, `${failures} failures out of 60`);
  });

  it("never fails at failure_rate 0 and always fails at 1", async () => {
    const never = await start({ config: { failureRate: 0 } });
    const always = await start({ config: { failureRate: 1 } });
    for (let i = 0; i < 5; i += 1) {
      assert.equal((await post(never.base, "x")).status, 200);
      assert.equal((await post(always.base, "x")).status, 500);
    }
  });

  it("streams server-sent events on .../stream, in several chunks over time", async () => {
    const { base } = await start({ config: { streamChunks: 4, chunkIntervalMs: 80 } });
    const { status, contentType, chunks } = await readChunks(`${base}/v1/stream`, {});
    assert.equal(status, 200);
    assert.equal(contentType, "text/event-stream");
    const events = chunks
      .map((chunk) => chunk.text)
      .join("")
      .split("\n\n")
      .filter((event) => event !== "");
    assert.equal(events.length, 5);
    assert.equal(events[4], "data: [DONE]");
    events.slice(0, 4).forEach((event, index) => {
      const [idLine, dataLine] = event.split("\n");
      assert.equal(idLine, `id: ${index}`);
      assert.deepEqual(JSON.parse((dataLine ?? "").slice("data: ".length)), {
        index,
        echo: "streamed",
        instance: "inst-1",
        version: "v3",
      });
    });
    assert.ok(chunks.length >= 4, `only ${chunks.length} network chunks`);
    const spread = (chunks.at(-1)?.at ?? 0) - (chunks[0]?.at ?? 0);
    assert.ok(spread >= 3 * 80 - 10, `chunks spread over ${spread.toFixed(1)} ms`);
  });

  it("streams server-sent events when the client accepts text/event-stream", async () => {
    const { base } = await start({ config: { streamChunks: 2, chunkIntervalMs: 0 } });
    const { contentType, chunks } = await readChunks(`${base}/predict`, { accept: "text/event-stream" });
    assert.equal(contentType, "text/event-stream");
    assert.match(chunks.map((chunk) => chunk.text).join(""), /id: 1\ndata: .*\n\ndata: \[DONE\]\n\n$/);
  });

  it("streams chunked NDJSON on .../chunked", async () => {
    const { base } = await start({ config: { streamChunks: 3, chunkIntervalMs: 50 } });
    const { contentType, chunks } = await readChunks(`${base}/x/chunked`, {});
    assert.equal(contentType, "application/x-ndjson");
    const lines = chunks
      .map((chunk) => chunk.text)
      .join("")
      .trimEnd()
      .split("\n")
      .map((line) => JSON.parse(line) as { index: number });
    assert.deepEqual(
      lines.map((line) => line.index),
      [0, 1, 2],
    );
    assert.ok(chunks.length >= 3, `only ${chunks.length} network chunks`);
  });

  it("echoes WebSocket messages on /ws, text and binary", async () => {
    const { port } = await start();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    const received: Array<{ data: Buffer; isBinary: boolean }> = [];
    const done = new Promise<void>((resolve, reject) => {
      ws.on("message", (data, isBinary) => {
        received.push({ data: data as Buffer, isBinary });
        if (received.length === 2) resolve();
      });
      ws.on("error", reject);
    });
    await within(5_000, "websocket open", new Promise((resolve) => ws.once("open", resolve)));
    ws.send("hello");
    ws.send(Buffer.from([1, 2, 3]));
    await within(5_000, "websocket echoes", done);
    ws.close();
    assert.equal(received[0]?.data.toString(), "hello");
    assert.equal(received[0]?.isBinary, false);
    assert.deepEqual([...(received[1]?.data ?? [])], [1, 2, 3]);
    assert.equal(received[1]?.isBinary, true);
  });

  it("refuses WebSocket upgrades on other paths", async () => {
    const { port } = await start();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/elsewhere`);
    const status = await within(
      5_000,
      "upgrade refusal",
      new Promise<number>((resolve) => {
        ws.on("unexpected-response", (_req, res) => resolve(res.statusCode ?? 0));
        ws.on("error", () => resolve(-1));
      }),
    );
    assert.equal(status, 404);
  });

  it("answers 413 for bodies over max_body_bytes", async () => {
    const { base } = await start({ config: { maxBodyBytes: 100 } });
    const res = await post(base, "y".repeat(1000));
    assert.equal(res.status, 413);
    assert.equal(((await res.json()) as { code: string }).code, "body_too_large");
  });

  it("finishes in-flight requests on close and refuses new ones", async () => {
    const { server, base } = await start({ config: { latencyMs: 300 } });
    const inFlight = post(base, "slow");
    await new Promise((resolve) => setTimeout(resolve, 50));
    const closed = server.close();
    const res = await inFlight;
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { echo: string }).echo, "slow");
    await within(2_000, "close after draining", closed);
    await assert.rejects(post(base, "late"));
  });

  it("closes open WebSockets with 1001 on close", async () => {
    const { server, port } = await start();
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    await within(5_000, "websocket open", new Promise((resolve) => ws.once("open", resolve)));
    const code = new Promise<number>((resolve) => ws.once("close", (closeCode) => resolve(closeCode)));
    await within(5_000, "close", server.close());
    assert.equal(await within(5_000, "websocket close", code), 1001);
  });

  it("binds only after EAS_STARTUP_DELAY_MS", async () => {
    const port = await freePort();
    const server = createEchoServer({ startupDelayMs: 300 });
    servers.push(server);
    const listening = server.listen(port, "127.0.0.1");
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1_000) }));
    await within(5_000, "listen", listening);
    assert.equal((await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1_000) })).status, 200);
  });

  it("rejects listen when closed during the startup delay", async () => {
    const server = createEchoServer({ startupDelayMs: 5_000 });
    const listening = server.listen(0);
    await server.close();
    await assert.rejects(within(1_000, "listen", listening), EchoServerClosedError);
  });
});

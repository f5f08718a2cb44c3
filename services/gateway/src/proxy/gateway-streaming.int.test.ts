import assert from "node:assert/strict";
import { once } from "node:events";
import { request as httpRequest, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { WebSocket, WebSocketServer } from "ws";
import { waitFor } from "@eas/testing";
import { routeEntry, startBackend, startGateway, type TestBackend, type TestGateway } from "./test-support.js";

/** A one-shot signal a test can await with a bound. */
function signal(): { fire(): void; wait(what: string, ms?: number): Promise<void>; fired: boolean } {
  let fire!: () => void;
  const promise = new Promise<void>((resolve) => (fire = resolve));
  const state = {
    fired: false,
    fire() {
      state.fired = true;
      fire();
    },
    wait: (what: string, ms = 5_000) =>
      Promise.race([
        promise,
        new Promise<void>((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms).unref()),
      ]),
  };
  return state;
}

describe("gateway: streaming and WebSocket pass-through", () => {
  let sse: TestBackend;
  let upload: TestBackend;
  let wss: WebSocketServer;
  let wsPaths: string[];
  let gw: TestGateway;
  const clientGotFirstEvent = signal();
  const backendEnded = signal();
  const backendGotFirstChunk = signal();

  before(async () => {
    sse = await startBackend("sse", (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write("data: first\n\n");
      // The second event and the end wait until the client has seen the first one through the gateway.
      clientGotFirstEvent
        .wait("the client to see the first event")
        .then(() => {
          res.end("data: second\n\n");
          backendEnded.fire();
        })
        .catch(() => res.destroy());
    });
    upload = await startBackend("upload", (req, res) => {
      let bytes = 0;
      req.on("data", (chunk: Buffer) => {
        bytes += chunk.length;
        backendGotFirstChunk.fire();
      });
      req.on("end", () => res.end(JSON.stringify({ bytes, chunked: req.headers["transfer-encoding"] === "chunked" })));
    });
    wsPaths = [];
    wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await once(wss, "listening");
    wss.on("connection", (socket, req) => {
      wsPaths.push(req.url ?? "");
      socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
    });
    const wsPort = (wss.address() as AddressInfo).port;
    gw = await startGateway([
      routeEntry("sse", [sse.route()]),
      routeEntry("upload", [upload.route()]),
      routeEntry("ws", [{ id: "ws-1", endpoint: `127.0.0.1:${wsPort}`, version: 1 }]),
    ]);
  });

  after(async () => {
    await gw.close();
    await sse.close();
    await upload.close();
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  it("delivers the first SSE event before the instance has finished the response", async () => {
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const req = httpRequest(
        `${gw.url}/api/predict/sse/stream`,
        { headers: { authorization: "secret-token", accept: "text/event-stream" }, agent: false },
        resolve,
      );
      req.on("error", reject);
      req.end();
    });
    assert.equal(res.statusCode, 200);
    assert.equal(res.headers["content-type"], "text/event-stream");
    res.setEncoding("utf8");
    let received = "";
    for await (const chunk of res) {
      received += chunk as string;
      if (!clientGotFirstEvent.fired && received.includes("data: first\n\n")) {
        assert.equal(backendEnded.fired, false, "the instance must still be streaming");
        clientGotFirstEvent.fire();
      }
    }
    assert.equal(received, "data: first\n\ndata: second\n\n");
    assert.equal(backendEnded.fired, true);
  });

  it("streams a chunked upload to the instance as it arrives", async () => {
    const result = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpRequest(
        `${gw.url}/api/predict/upload`,
        { method: "POST", headers: { authorization: "secret-token" }, agent: false },
        (res) => {
          let body = "";
          res.setEncoding("utf8");
          res.on("data", (chunk: string) => (body += chunk));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.write(Buffer.alloc(1000, 1));
      // The rest is sent only once the instance has the first chunk: a gateway that buffered the body would hang here.
      backendGotFirstChunk
        .wait("the instance to receive the first chunk")
        .then(() => req.end(Buffer.alloc(500, 2)))
        .catch(reject);
    });
    assert.equal(result.status, 200);
    assert.deepEqual(JSON.parse(result.body), { bytes: 1500, chunked: true });
  });

  it("passes a WebSocket through: authenticated upgrade, echo both ways, sub path kept", async () => {
    const client = new WebSocket(`${gw.url.replace("http", "ws")}/api/predict/ws/socket?room=1`, {
      headers: { authorization: "Bearer secret-token" },
    });
    const upgrade = await Promise.race([once(client, "upgrade"), once(client, "error").then(([err]) => Promise.reject(err as Error))]);
    assert.equal((upgrade[0] as IncomingMessage).headers["x-eas-instance"], "ws-1");
    const replies: string[] = [];
    client.on("message", (data) => replies.push(String(data)));
    client.send("hello");
    client.send(Buffer.alloc(100_000, 120));
    await waitFor("two echoes", () => replies.length === 2, { timeoutMs: 5_000 });
    assert.equal(replies[0], "hello");
    assert.equal(replies[1]?.length, 100_000);
    assert.deepEqual(wsPaths, ["/socket?room=1"]);
    client.close();
    await once(client, "close");
  });

  it("refuses a WebSocket upgrade without a valid token with 401", async () => {
    const client = new WebSocket(`${gw.url.replace("http", "ws")}/api/predict/ws/socket`, { headers: { authorization: "wrong" } });
    client.on("error", () => undefined);
    const [, response] = (await once(client, "unexpected-response")) as [unknown, IncomingMessage];
    assert.equal(response.statusCode, 401);
    response.resume();
    client.terminate();
  });

  it("refuses a WebSocket upgrade for an unknown service with 404", async () => {
    const client = new WebSocket(`${gw.url.replace("http", "ws")}/api/predict/nope`, { headers: { authorization: "secret-token" } });
    client.on("error", () => undefined);
    const [, response] = (await once(client, "unexpected-response")) as [unknown, IncomingMessage];
    assert.equal(response.statusCode, 404);
    response.resume();
    client.terminate();
  });
});

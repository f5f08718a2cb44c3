import assert from "node:assert/strict";
import { once } from "node:events";
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { WebSocket, WebSocketServer } from "ws";
import { routeEntry, startGateway, type TestGateway } from "./test-support.js";

/** What a client is answered, in the parts that must match between a plain request and an upgrade. */
interface Answer {
  status: number;
  body: string;
  retryAfter: string | undefined;
}

describe("gateway: a WebSocket upgrade is admitted like a plain request", () => {
  let wss: WebSocketServer;
  let gw: TestGateway;

  before(async () => {
    wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await once(wss, "listening");
    wss.on("connection", (socket) => socket.on("message", (data) => socket.send(data)));
    const endpoint = `127.0.0.1:${(wss.address() as AddressInfo).port}`;
    const instance = { id: "ws-1", endpoint, version: 1 };
    // A clock that never moves: a rate-limit bucket, once empty, stays empty for the whole test.
    gw = await startGateway(
      [routeEntry("open", [instance]), routeEntry("limited", [instance], { rateLimit: 1 }), routeEntry("starting", [])],
      { now: () => 0 },
    );
  });

  after(async () => {
    await gw.close();
    for (const client of wss.clients) client.terminate();
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  });

  async function plain(service: string, token: string): Promise<Answer> {
    const response = await gw.call(`/api/predict/${service}`, { token });
    return { status: response.status, body: response.text, retryAfter: header(response.headers["retry-after"]) };
  }

  /** Opens a WebSocket; resolves with the refusal, or with status 101 (the socket then closed again). */
  async function upgrade(service: string, token: string): Promise<Answer> {
    const client = new WebSocket(`${gw.url.replace("http", "ws")}/api/predict/${service}/socket`, { headers: { authorization: token } });
    client.on("error", () => undefined);
    const outcome = await Promise.race([
      once(client, "unexpected-response").then(([, response]) => response as IncomingMessage),
      once(client, "open").then(() => undefined),
    ]);
    if (outcome === undefined) {
      client.close();
      await once(client, "close");
      return { status: 101, body: "", retryAfter: undefined };
    }
    let body = "";
    outcome.setEncoding("utf8");
    for await (const chunk of outcome) body += chunk as string;
    client.terminate();
    return { status: outcome.statusCode ?? 0, body, retryAfter: header(outcome.headers["retry-after"]) };
  }

  it("answers a wrong or missing token with the same 401", async () => {
    for (const token of ["wrong", ""]) {
      const expected = await plain("open", token);
      assert.equal(expected.status, 401);
      assert.deepEqual(await upgrade("open", token), expected, `token ${JSON.stringify(token)}`);
    }
    assert.equal((await upgrade("open", "secret-token")).status, 101);
  });

  it("counts upgrades against the rate limit, and answers past it with the same 429", async () => {
    // The bucket holds one request: the first upgrade takes it.
    assert.equal((await upgrade("limited", "secret-token")).status, 101);
    const expected = await plain("limited", "secret-token");
    assert.equal(expected.status, 429);
    assert.ok(expected.retryAfter !== undefined && Number(expected.retryAfter) >= 1);
    assert.deepEqual(await upgrade("limited", "secret-token"), expected);
  });

  it("answers a service without a Ready instance with the same 503", async () => {
    const expected = await plain("starting", "secret-token");
    assert.equal(expected.status, 503);
    assert.deepEqual(await upgrade("starting", "secret-token"), expected);
  });
});

function header(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(", ") : value;
}

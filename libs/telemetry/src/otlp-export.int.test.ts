import { describe, it, after, before } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { trace } from "@opentelemetry/api";
import { startTelemetry } from "./sdk.js";

/** A stand-in OTLP/HTTP collector that records what it is sent. */
describe("OTLP/HTTP export", () => {
  const received: { path: string; contentType: string; body: Buffer }[] = [];
  let server: Server;
  let endpoint: string;
  before(async () => {
    server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on("data", (chunk: Buffer) => chunks.push(chunk));
      request.on("end", () => {
        received.push({
          path: request.url ?? "",
          contentType: String(request.headers["content-type"]),
          body: Buffer.concat(chunks),
        });
        response.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("given OTEL_EXPORTER_OTLP_ENDPOINT, when the service shuts down, then its spans reach /v1/traces", async () => {
    const telemetry = startTelemetry({
      serviceName: "eas-export-test",
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: endpoint },
      instrumentation: false,
    });
    assert.equal(telemetry.spanExport, "otlp");
    assert.equal(telemetry.otlpTracesUrl, `${endpoint}/v1/traces`);
    const traceId = trace.getTracer("test").startActiveSpan("exported-span", (span) => {
      span.end();
      return span.spanContext().traceId;
    });
    await telemetry.shutdown();

    const traces = received.filter((request) => request.path === "/v1/traces");
    assert.equal(traces.length, 1, `requests: ${received.map((request) => request.path).join(", ")}`);
    const body = traces[0]!.body.toString("latin1");
    // The exporter sends protobuf by default; names and ids appear in it verbatim.
    assert.ok(body.includes("exported-span"));
    assert.ok(body.includes("eas-export-test"));
    assert.ok(traces[0]!.body.includes(Buffer.from(traceId, "hex")) || body.includes(traceId));
  });
});

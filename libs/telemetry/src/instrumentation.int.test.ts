import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { SpanKind } from "@opentelemetry/api";

interface SpanSummary {
  name: string;
  kind: SpanKind;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  rpcSystem?: string;
}

const packageRoot = fileURLToPath(new URL("..", import.meta.url));

/** Runs the fixture process with the given extra `--import`s and returns the spans it printed. */
async function spansOfChild(imports: string[]): Promise<SpanSummary[]> {
  const args = ["--conditions=source", "--import", "tsx", ...imports.flatMap((name) => ["--import", name])];
  const stdout = await new Promise<string>((resolve, reject) =>
    execFile(
      process.execPath,
      [...args, "src/fixtures/traced-process.ts"],
      { cwd: packageRoot, timeout: 20_000, env: { ...process.env, OTEL_EXPORTER_OTLP_ENDPOINT: "" } },
      (error, out, err) => (error ? reject(new Error(`fixture failed: ${error.message}\n${err}`)) : resolve(out)),
    ),
  );
  return JSON.parse(stdout.trim().split("\n").at(-1) ?? "[]") as SpanSummary[];
}

function pairIn(spans: SpanSummary[], matches: (span: SpanSummary) => boolean) {
  const client = spans.find((span) => matches(span) && span.kind === SpanKind.CLIENT);
  const server = spans.find((span) => matches(span) && span.kind === SpanKind.SERVER);
  return { client, server };
}

describe("auto-instrumentation under ESM", () => {
  it("given @eas/telemetry/register, then gRPC and HTTP calls make client and server spans in one trace each", async () => {
    const spans = await spansOfChild(["@eas/telemetry/register"]);
    const grpc = pairIn(spans, (span) => span.rpcSystem === "grpc");
    assert.ok(grpc.client && grpc.server, `spans: ${JSON.stringify(spans)}`);
    assert.equal(grpc.client.name, "grpc.eas.test.Echo/Echo");
    assert.equal(grpc.server.traceId, grpc.client.traceId);
    assert.equal(grpc.server.parentSpanId, grpc.client.spanId);

    const http = pairIn(spans, (span) => span.name === "GET");
    assert.ok(http.client && http.server, `spans: ${JSON.stringify(spans)}`);
    assert.equal(http.server.parentSpanId, http.client.spanId);
  });

  it("given no loader hook, then gRPC goes untraced (why services must load the register module)", async () => {
    const spans = await spansOfChild([]);
    assert.equal(
      spans.some((span) => span.rpcSystem === "grpc"),
      false,
      "gRPC spans appeared without the hook; the register module may no longer be needed",
    );
  });
});

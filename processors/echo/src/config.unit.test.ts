import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_ECHO_CONFIG, EchoConfigError, parseEchoConfig } from "./config.js";

describe("parseEchoConfig", () => {
  it("gives the defaults for missing or empty text", () => {
    for (const text of [undefined, "", "   "]) {
      assert.deepEqual(parseEchoConfig(text), { config: DEFAULT_ECHO_CONFIG, warnings: [] });
    }
  });

  it("maps snake_case keys onto the config", () => {
    const { config } = parseEchoConfig(
      JSON.stringify({
        latency_ms: 20,
        latency_jitter_ms: 5,
        response_bytes: 1024,
        failure_rate: 0.25,
        stream_chunks: 3,
        chunk_interval_ms: 10,
        max_body_bytes: 100,
        stall_after_ms: 2_000,
        stall_ms: 1_000,
      }),
    );
    assert.deepEqual(config, {
      latencyMs: 20,
      latencyJitterMs: 5,
      responseBytes: 1024,
      failureRate: 0.25,
      streamChunks: 3,
      chunkIntervalMs: 10,
      maxBodyBytes: 100,
      stallAfterMs: 2_000,
      stallMs: 1_000,
    });
  });

  it("warns about unknown keys instead of failing", () => {
    const { config, warnings } = parseEchoConfig(`{"latency":5}`);
    assert.deepEqual(config, DEFAULT_ECHO_CONFIG);
    assert.deepEqual(warnings, ["unknown echo config key 'latency' ignored"]);
  });

  const invalid: ReadonlyArray<[string, string, RegExp]> = [
    ["not JSON", "{", /not valid JSON/],
    ["an array", "[1]", /must be a JSON object/],
    ["null", "null", /must be a JSON object/],
    ["a string value", `{"latency_ms":"5"}`, /'latency_ms' must be a number/],
    ["a negative latency", `{"latency_ms":-1}`, /'latency_ms' must be a number in \[0/],
    ["a failure rate above 1", `{"failure_rate":1.5}`, /'failure_rate'/],
    ["fractional bytes", `{"response_bytes":1.5}`, /'response_bytes' must be an integer/],
    ["zero stream chunks", `{"stream_chunks":0}`, /'stream_chunks'/],
  ];
  for (const [name, text, message] of invalid) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => parseEchoConfig(text),
        (error: unknown) => {
          assert.ok(error instanceof EchoConfigError);
          assert.match(error.message, message);
          return true;
        },
      );
    });
  }
});

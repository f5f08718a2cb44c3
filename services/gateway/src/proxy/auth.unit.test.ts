import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { presentedToken, tokenDigest, tokenMatches } from "./auth.js";
import { equalsIgnoreCase, responseHeaders, scanRequestHeaders, splitPredictUrl } from "./headers.js";

describe("token auth", () => {
  const expected = tokenDigest("s3cr3t-token");

  it("accepts the bare token and the Bearer form, any case of the prefix", () => {
    for (const header of ["s3cr3t-token", "Bearer s3cr3t-token", "bearer s3cr3t-token", "BEARER  s3cr3t-token"]) {
      assert.equal(tokenMatches(presentedToken(header), expected), true, header);
    }
  });

  it("refuses absent, empty, wrong, prefixed-only and differently long tokens without throwing", () => {
    // timingSafeEqual throws on buffers of different lengths; hashing first makes every length comparable.
    for (const header of [
      undefined,
      "",
      "Bearer ",
      "s3cr3t-toke",
      "s3cr3t-token-and-more",
      "x",
      "Basic s3cr3t-token",
      "a".repeat(10_000),
    ]) {
      assert.equal(tokenMatches(presentedToken(header), expected), false, String(header));
    }
  });

  it("does not treat a token that starts with 'bearer' as a prefix", () => {
    assert.equal(presentedToken("bearertoken"), "bearertoken");
  });

  it("digests are fixed-length whatever the token length", () => {
    assert.equal(tokenDigest("a").length, 32);
    assert.equal(tokenDigest("a".repeat(1000)).length, 32);
  });
});

describe("request headers", () => {
  it("drops hop-by-hop headers, including those named in Connection, and reads what the gateway needs", () => {
    const scanned = scanRequestHeaders([
      "Host",
      "gw:8080",
      "Connection",
      "keep-alive, X-Private",
      "X-Private",
      "1",
      "Keep-Alive",
      "timeout=5",
      "TE",
      "trailers",
      "Transfer-Encoding",
      "chunked",
      "Authorization",
      "tok",
      "X-Request-Id",
      "rid",
      "X-Forwarded-For",
      "10.0.0.1",
      "Content-Type",
      "application/json",
      "Expect",
      "100-continue",
    ]);
    assert.deepEqual(scanned.forward, ["Authorization", "tok", "Content-Type", "application/json"]);
    assert.equal(scanned.host, "gw:8080");
    assert.equal(scanned.authorization, "tok");
    assert.equal(scanned.requestId, "rid");
    assert.equal(scanned.forwardedFor, "10.0.0.1");
    assert.equal(scanned.chunked, true);
    assert.equal(scanned.contentLength, -1);
  });

  it("reads Content-Length", () => {
    assert.equal(scanRequestHeaders(["content-length", "42"]).contentLength, 42);
  });

  it("compares header names ignoring ASCII case only", () => {
    assert.equal(equalsIgnoreCase("Content-Length", "content-length"), true);
    assert.equal(equalsIgnoreCase("Content-Lengtx", "content-length"), false);
    assert.equal(equalsIgnoreCase("te", "te"), true);
  });

  it("drops hop-by-hop response headers and appends extras", () => {
    const raw = ["Content-Type", "text/plain", "Transfer-Encoding", "chunked", "Connection", "keep-alive", "Keep-Alive", "timeout=5"].map(
      (s) => Buffer.from(s),
    );
    assert.deepEqual(responseHeaders(raw, ["x-eas-instance", "i-1"]), ["Content-Type", "text/plain", "x-eas-instance", "i-1"]);
  });
});

describe("splitPredictUrl", () => {
  const table: [string, { service: string; path: string } | undefined][] = [
    ["/api/predict/svc", { service: "svc", path: "/" }],
    ["/api/predict/svc/", { service: "svc", path: "/" }],
    ["/api/predict/svc?x=1", { service: "svc", path: "/?x=1" }],
    ["/api/predict/svc/v2/models/m/infer?x=1&y=2", { service: "svc", path: "/v2/models/m/infer?x=1&y=2" }],
    ["/api/predict/", undefined],
    ["/api/predict", undefined],
    ["/api/predictsvc", undefined],
    ["/healthz", undefined],
  ];
  for (const [url, expected] of table) {
    it(`${url} -> ${JSON.stringify(expected)}`, () => assert.deepEqual(splitPredictUrl(url), expected));
  }
});

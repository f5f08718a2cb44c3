import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { status } from "@grpc/grpc-js";
import { describeError } from "./client.js";

describe("describeError", () => {
  it("tells how to start the local cluster the way the README does, when the deployer cannot be reached", () => {
    const message = describeError({ code: status.UNAVAILABLE, details: "connect ECONNREFUSED 127.0.0.1:50051" }, "127.0.0.1:50051");
    assert.equal(
      message,
      "cannot reach EAS at 127.0.0.1:50051 (is the local cluster running? `bash scripts/up.sh` starts it): connect ECONNREFUSED 127.0.0.1:50051",
    );
    assert.doesNotMatch(message, /pnpm/);
  });

  it("names the gRPC status and the server's words otherwise", () => {
    assert.equal(
      describeError({ code: status.NOT_FOUND, details: "service echo_demo has no version 7; versions: 1, 2" }, "x"),
      "NOT_FOUND: service echo_demo has no version 7; versions: 1, 2",
    );
  });
});

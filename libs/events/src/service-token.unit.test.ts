import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { serviceTokenSha256, tokenSha256 } from "./service-token.js";

describe("service token digests", () => {
  it("is the lowercase hex SHA-256 of the token", () => {
    // echo -n abc | sha256sum
    assert.equal(tokenSha256("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });

  it("takes a ServiceCreated's tokenSha256, or the digest of the clear token an event from before ADR 0027 holds", () => {
    assert.equal(serviceTokenSha256({ token: "", tokenSha256: "ab12" }), "ab12");
    assert.equal(serviceTokenSha256({ token: "abc", tokenSha256: "" }), tokenSha256("abc"));
    assert.equal(serviceTokenSha256({ token: "", tokenSha256: "" }), "");
  });
});

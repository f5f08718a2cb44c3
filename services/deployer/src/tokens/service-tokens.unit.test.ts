import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { InMemoryEventStore } from "@eas/event-store";
import { event, serviceStream, tokenSha256, toNewEvent } from "@eas/events";
import { ServiceSpec } from "@eas/proto";
import { createServiceTokens, memoryTokenVault, withoutClearToken } from "./service-tokens.js";

const legacyCreated = (token: string) =>
  toNewEvent(
    event("ServiceCreated", {
      name: "old",
      spec: ServiceSpec.fromPartial({ name: "old", instance: 1 }),
      version: 1,
      token,
      createdAt: "2026-01-01T00:00:00.000Z",
      tokenSha256: "",
    }),
    "11111111-1111-4111-8111-111111111111",
  );

describe("service tokens", () => {
  it("issues a token into the vault and reveals it by its digest", async () => {
    const vault = memoryTokenVault();
    const tokens = createServiceTokens({ vault, store: new InMemoryEventStore() });
    const issued = await tokens.issue();
    assert.equal(issued.sha256, tokenSha256(issued.token));
    assert.ok(issued.token.length >= 32, "24 random bytes, base64url");
    assert.equal(vault.entries.get(issued.sha256), issued.token);
    // Another deployer (a restart, a second process) reveals it from the vault alone.
    const another = createServiceTokens({ vault, store: new InMemoryEventStore() });
    assert.equal(await another.reveal("svc", issued.sha256), issued.token);
    await tokens.forget(issued.sha256);
    assert.equal(vault.entries.has(issued.sha256), false);
  });

  it("reveals the token of a service created before ADR 0027 from its ServiceCreated, and keeps it in the vault", async () => {
    const store = new InMemoryEventStore();
    await store.append(serviceStream("old"), [legacyCreated("legacy-token")], { expectedRevision: "no_stream" });
    const vault = memoryTokenVault();
    const tokens = createServiceTokens({ vault, store });
    assert.equal(await tokens.reveal("old", tokenSha256("legacy-token")), "legacy-token");
    assert.equal(vault.entries.get(tokenSha256("legacy-token")), "legacy-token");
    assert.equal(await tokens.reveal("old", tokenSha256("another")), "", "a digest nothing matches reveals nothing");
  });

  it("WatchEvents shows a legacy ServiceCreated with the digest instead of the clear token", () => {
    const data = { name: "old", token: "legacy-token", version: 1 };
    assert.deepEqual(withoutClearToken("eas.v1.ServiceCreated", data), {
      name: "old",
      version: 1,
      tokenSha256: tokenSha256("legacy-token"),
    });
    const scaled = { name: "old", toReplicas: 2 };
    assert.equal(withoutClearToken("eas.v1.ServiceScaled", scaled), scaled);
  });
});

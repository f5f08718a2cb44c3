import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { freePort } from "@eas/testing";
import { EventStoreUnavailableError } from "../errors.js";
import { eventStoreContract } from "../testing/index.js";
import { connectKurrentDbEventStore } from "./index.js";

// The contract runs against a real KurrentDB: the one at EAS_KURRENTDB_URL, else one started with
// testcontainers where a Docker engine exists. Without either, the suite is reported as skipped, with why.
const IMAGE = process.env.EAS_KURRENTDB_IMAGE ?? "docker.kurrent.io/kurrent-latest/kurrentdb:25.0";

interface Server {
  connectionString: string;
  stop(): Promise<void>;
}

async function findServer(): Promise<Server | string> {
  const url = process.env.EAS_KURRENTDB_URL;
  if (url) return { connectionString: url, stop: async () => undefined };
  try {
    const { GenericContainer, Wait } = await import("testcontainers");
    const container = await new GenericContainer(IMAGE)
      .withExposedPorts(2113)
      .withEnvironment({ KURRENTDB_CLUSTER_SIZE: "1", KURRENTDB_INSECURE: "true", KURRENTDB_MEM_DB: "true" })
      .withWaitStrategy(Wait.forHealthCheck())
      .withStartupTimeout(120_000)
      .start();
    return {
      connectionString: `kurrentdb://${container.getHost()}:${container.getMappedPort(2113)}?tls=false`,
      stop: async () => {
        await container.stop();
      },
    };
  } catch (error) {
    const reason = error instanceof Error ? error.message.split("\n")[0] : String(error);
    return `no KurrentDB server: EAS_KURRENTDB_URL is not set and testcontainers could not start ${IMAGE} (${reason})`;
  }
}

const server = await findServer();
after(async () => {
  if (typeof server !== "string") await server.stop();
});

eventStoreContract(
  "KurrentDB",
  async () => {
    if (typeof server === "string") throw new Error(server);
    // One server for every case: the contract isolates cases by category, so they share it safely.
    const store = await connectKurrentDbEventStore({ connectionString: server.connectionString });
    return { store, cleanup: () => store.close() };
  },
  typeof server === "string" ? { skip: server } : {},
);

describe("KurrentDbEventStore without a server", () => {
  it("fails to connect with EventStoreUnavailableError within the retry budget", async () => {
    const port = await freePort();
    const started = Date.now();
    const error = await connectKurrentDbEventStore({
      connectionString: `kurrentdb://127.0.0.1:${port}?tls=false`,
      retry: { budgetMs: 300 },
    }).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(error instanceof EventStoreUnavailableError, `got ${String(error)}`);
    assert.equal(error.retryable, true);
    assert.ok(Date.now() - started < 10_000);
  });

  it("rejects a malformed connection string", async () => {
    await assert.rejects(connectKurrentDbEventStore({ connectionString: "http://nope" }), /connection string/);
  });
});

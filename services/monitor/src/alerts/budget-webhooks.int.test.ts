/*
 * Budget alerts reach their budget's webhook through the monitor, as a process against a real nats-server:
 * the billing's events (BudgetSet with a webhook, BudgetThresholdReached) are appended to the log as the
 * billing writes them; webhook servers run here. Each alert is posted once; a 500 is retried; a webhook
 * that never answers delays no other budget; after a restart the monitor posts new alerts and never
 * an alert whose outcome it recorded.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:http";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { connectJetStreamEventStore, type EventStore } from "@eas/event-store";
import { budgetAlertStream, budgetStream, decodeEvent, event, toNewEvent, type EasEvent } from "@eas/events";
import { freePort, startNatsServer, waitFor, type NatsServerHandle } from "@eas/testing";
import type { BudgetWebhookBody } from "./budget-webhooks.js";

const serviceDir = fileURLToPath(new URL("../..", import.meta.url));
const PERIOD = "2026-12";
const BUDGET = 10_000_000;

let nats: NatsServerHandle;
let nc: NatsConnection;
let store: EventStore;
let monitor: ChildProcess;
/** Closed in after(), so that a failed test does not leave the process waiting on open servers. */
const hooks: Hook[] = [];

async function startMonitor(): Promise<void> {
  const httpPort = await freePort();
  monitor = spawn(process.execPath, ["--conditions=source", "--import", "tsx", "src/main.ts"], {
    cwd: serviceDir,
    env: {
      ...process.env,
      NATS_URL: nats.url,
      EAS_GRPC_PORT: String(await freePort()),
      EAS_HTTP_PORT: String(httpPort),
      EAS_LOG_LEVEL: process.env.EAS_LOG_LEVEL ?? "warn",
      EAS_MONITOR_WEBHOOK_TIMEOUT_MS: "2000",
      EAS_MONITOR_WEBHOOK_BACKOFF_MS: "200",
    },
    stdio: "inherit",
  });
  await waitFor(
    "the monitor to be ready",
    async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined))?.ok === true,
    {
      timeoutMs: 30_000,
      intervalMs: 200,
    },
  );
}

async function stopMonitor(): Promise<void> {
  const exited = new Promise((resolve) => monitor.once("exit", resolve));
  monitor.kill("SIGTERM");
  await exited;
}

interface Hook {
  server: Server;
  url: string;
  /** Bodies of the posts answered 2xx, with their idempotency keys. */
  delivered: { body: BudgetWebhookBody; key: string; at: number }[];
  attempts: number;
}

/** A webhook receiver: `answer` picks the status for each post (0: never answer). */
async function startHook(answer: (attempt: number) => number): Promise<Hook> {
  const hook: Hook = { server: createServer(), url: "", delivered: [], attempts: 0 };
  hook.server.on("request", (req, res) => {
    let body = "";
    req.on("data", (chunk: Buffer) => (body += chunk.toString()));
    req.on("end", () => {
      const code = answer(++hook.attempts);
      if (code === 0) return;
      if (code < 300) {
        hook.delivered.push({ body: JSON.parse(body) as BudgetWebhookBody, key: String(req.headers["idempotency-key"]), at: Date.now() });
      }
      res.writeHead(code).end();
    });
  });
  await new Promise<void>((resolve) => hook.server.listen(0, "127.0.0.1", resolve));
  const address = hook.server.address();
  hook.url = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}/budget`;
  hooks.push(hook);
  return hook;
}

async function append(stream: string, e: EasEvent): Promise<void> {
  await store.append(stream, [toNewEvent(e, randomUUID())], { expectedRevision: "any" });
}

const budgetSet = (service: string, webhookUrl: string) =>
  append(budgetStream(service), event("BudgetSet", { service, amountMicros: BUDGET, webhookUrl, at: new Date().toISOString() }));

const thresholdReached = (service: string, thresholdPercent: number, spentMicros: number) =>
  append(
    budgetStream(service),
    event("BudgetThresholdReached", {
      service,
      period: PERIOD,
      thresholdPercent,
      amountMicros: BUDGET,
      spentMicros,
      at: new Date().toISOString(),
    }),
  );

async function outcomes(service: string): Promise<EasEvent[]> {
  return (await store.readStream(budgetAlertStream(service))).flatMap((recorded) => decodeEvent(recorded) ?? []);
}

before(async () => {
  nats = await startNatsServer();
  nc = await connect({ servers: nats.url });
  store = await connectJetStreamEventStore({ nc });
  await startMonitor();
});

after(async () => {
  for (const hook of hooks) hook.server.closeAllConnections();
  for (const hook of hooks) hook.server.close();
  await stopMonitor().catch(() => undefined);
  await store?.close();
  await nc?.close();
  await nats?.stop();
});

describe("budget webhooks", () => {
  it("posts each threshold once, retries a 500, is not delayed by a dead webhook, and does not post again after a restart", async () => {
    const flaky = await startHook((attempt) => (attempt === 1 ? 500 : 200));
    const hanging = await startHook(() => 0);
    await budgetSet("dead", hanging.url);
    await budgetSet("iris", flaky.url);
    // The dead webhook's alert comes first: it must not hold back iris's.
    await thresholdReached("dead", 80, 8_000_000);
    const raisedAt = Date.now();
    await thresholdReached("iris", 80, 8_100_000);

    await waitFor("iris's 80 % reaches its webhook", () => flaky.delivered.length > 0, { timeoutMs: 10_000 });
    assert.ok(flaky.attempts >= 2, "the 500 was retried");
    const tookMs = flaky.delivered[0]!.at - raisedAt;
    assert.ok(tookMs < 2_000, `iris's alert took ${tookMs} ms, as if it had waited for the dead webhook (2 s per attempt)`);
    assert.deepEqual(flaky.delivered[0]!.body, {
      kind: "budget",
      service: "iris",
      period: PERIOD,
      threshold: 80,
      spentMicros: 8_100_000,
      budgetMicros: BUDGET,
      at: flaky.delivered[0]!.body.at,
    });
    await waitFor(
      "the delivery is recorded",
      async () => (await outcomes("iris")).some((e) => e.type === "eas.v1.BudgetWebhookDelivered"),
      {
        timeoutMs: 5_000,
      },
    );

    // A restart after the delivery was recorded posts nothing again; a threshold reached later is posted.
    await stopMonitor();
    await startMonitor();
    await thresholdReached("iris", 100, 10_200_000);
    await waitFor("iris's 100 % reaches its webhook", () => flaky.delivered.length > 1, { timeoutMs: 10_000 });
    await waitFor("the second delivery is recorded", async () => (await outcomes("iris")).length === 2, { timeoutMs: 5_000 });
    await new Promise((resolve) => setTimeout(resolve, 1_000));

    assert.deepEqual(
      flaky.delivered.map((d) => [d.body.threshold, d.key]),
      [
        [80, "budget-iris:1"],
        [100, "budget-iris:2"],
      ],
    );
    const recorded = await outcomes("iris");
    assert.deepEqual(
      recorded.map((e) =>
        e.type === "eas.v1.BudgetWebhookDelivered" ? [e.data.alertRevision, e.data.thresholdPercent, e.data.statusCode] : e.type,
      ),
      [
        [1, 80, 200],
        [2, 100, 200],
      ],
    );
  });
});

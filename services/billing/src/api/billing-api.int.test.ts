/*
 * The Billing API and its read models against a real nats-server: the JetStream event store holding the
 * scripted day, the metering projection through the projection runner with checkpoints in NATS KV (as the
 * service host keeps them), and a real grpc-js server, wired as app.ts wires them. Time is the scripted
 * day's: the API's clock is fixed at the next midnight.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { connectNats, createBus, type Bus } from "@eas/bus";
import { connectJetStreamEventStore, type EventStore } from "@eas/event-store";
import { budgetStream, decodeEvent } from "@eas/events";
import { createProjectionRunner, type CheckpointStore, type ProjectionRunner } from "@eas/projections";
import { BillingClient, BillingService, unaryCall, type Bill, type GetBillRequest } from "@eas/proto";
import { openKvCheckpointStore, startGrpcServer, type GrpcServerHandle } from "@eas/service-kit";
import { createLogger } from "@eas/telemetry";
import { freePort, startNatsServer, type NatsServerHandle } from "@eas/testing";
import { startBudgetWatch } from "../budgets/budget-watch.js";
import type { MeterState } from "../domain/index.js";
import { budgetsProjection, type Budgets } from "../projections/budgets.js";
import { meteringProjection } from "../projections/metering.js";
import { at } from "../testing/log.js";
import { SCRIPTED_DAY, SCRIPTED_DAY_BILL, SCRIPTED_DAY_TOTAL } from "../testing/scripted-day.js";
import { appendLog } from "../testing/store.js";
import { createBillingApi } from "./billing-api.js";

const CALL_TIMEOUT_MS = 15_000;
const NOW = new Date(at("24:00:00"));
const logger = createLogger({ name: "billing-test", level: "silent" });

let nats: NatsServerHandle;
let bus: Bus;
let store: EventStore;
let checkpoints: CheckpointStore;

interface Billing {
  metering: ProjectionRunner<MeterState>;
  budgets: ProjectionRunner<Budgets>;
  client: BillingClient;
  stop(): Promise<void>;
}

/** One billing process over the log: its read models (metering checkpointed in KV) and gRPC server. */
async function startBilling(): Promise<Billing> {
  const metering = createProjectionRunner({ store, projection: meteringProjection, checkpoints, checkpointEvery: 7 });
  const budgets = createProjectionRunner({ store, projection: budgetsProjection });
  await Promise.all([metering.start(), budgets.start()]);
  await Promise.all([metering.caughtUp, budgets.caughtUp]);
  const server: GrpcServerHandle = await startGrpcServer(
    [
      {
        definition: BillingService,
        implementation: createBillingApi({ store, metering, budgets, logger, now: () => NOW, source: "eas/billing/test" }),
      },
    ],
    "127.0.0.1",
    await freePort(),
  );
  const client = new BillingClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
  return {
    metering,
    budgets,
    client,
    async stop() {
      client.close();
      await server.stop(1_000);
      await metering.stop();
      await budgets.stop();
    },
  };
}

const getBill = (billing: Billing, request: Partial<GetBillRequest>) =>
  unaryCall(billing.client, billing.client.getBill, { service: "", from: "", to: "", by: "", ...request }, CALL_TIMEOUT_MS);
const theDay = { from: at("00:00:00"), to: at("24:00:00") };
const classLines = (bill: Bill) =>
  bill.lines.map((l) => ({ service: l.service, capacityClass: l.capacityClass, costMicros: BigInt(l.usage!.costMicros) }));

async function rejects(call: Promise<unknown>, code: status, pattern: RegExp): Promise<void> {
  await assert.rejects(call, (error: ServiceError) => {
    assert.equal(error.code, code, `${error.code}: ${error.details}`);
    assert.match(error.details, pattern);
    return true;
  });
}

before(async () => {
  nats = await startNatsServer();
  const tag = randomUUID().replaceAll("-", "").slice(0, 12);
  store = await connectJetStreamEventStore({ servers: nats.url, streamName: `BILL_${tag}`, subjectPrefix: `bill${tag}.events` });
  bus = createBus(await connectNats({ servers: [nats.url], name: "billing-test" }), { name: "billing-test", logger });
  checkpoints = await openKvCheckpointStore(bus.keyValue(), `billing-${tag}`);
  await appendLog(store, SCRIPTED_DAY);
});
after(async () => {
  await bus?.drain();
  await store?.close();
  await nats?.stop();
});

describe("Billing API: the scripted day from a real log", () => {
  it("bills the day as computed by hand; rebuilt from zero, and resumed from its checkpoint, it bills the same", async () => {
    const billing = await startBilling();
    let first: Bill;
    try {
      first = await getBill(billing, theDay);
      assert.deepEqual(classLines(first), SCRIPTED_DAY_BILL);
      assert.equal(BigInt(first.total!.costMicros), SCRIPTED_DAY_TOTAL);
      const byHour = await getBill(billing, { ...theDay, by: "hour" });

      await billing.metering.rebuild();
      await billing.metering.caughtUp;
      assert.deepEqual(await getBill(billing, theDay), first);
      assert.deepEqual(await getBill(billing, { ...theDay, by: "hour" }), byHour);
    } finally {
      await billing.stop();
    }
    const saved = await checkpoints.load(meteringProjection.name);
    assert.ok(saved && saved.position > 0, "the metering projection saved a checkpoint");
    const resumed = await startBilling();
    try {
      assert.equal(resumed.metering.status().eventsApplied, 0, "resumed from the checkpoint at the head, replaying nothing");
      assert.deepEqual(await getBill(resumed, theDay), first);
    } finally {
      await resumed.stop();
    }
  });

  it("answers one service's bill by instance, with its month to date", async () => {
    const billing = await startBilling();
    try {
      const bill = await getBill(billing, { ...theDay, service: "bert", by: "instance" });
      assert.deepEqual(
        bill.lines.map((l) => [l.key, l.capacityClass, l.usage?.costMicros]),
        [
          ["j1", "dedicated", 4_059_104],
          ["j2", "dedicated", 9_863_726],
        ],
      );
      assert.deepEqual(
        bill.services.map((s) => [s.service, s.usage?.costMicros, s.monthToDateMicros]),
        [["bert", 13_922_830, 13_922_830]],
      );
      assert.equal(bill.month, "2026-12");
      // 54,120 s with a GPU
      assert.ok(Math.abs(bill.total!.gpuHours - 54_120 / 3600) < 1e-9);
      // The default range is the month so far: the same day here.
      assert.deepEqual(classLines(await getBill(billing, { service: "bert" })), [
        { service: "bert", capacityClass: "dedicated", costMicros: 13_922_830n },
      ]);
    } finally {
      await billing.stop();
    }
  });

  it("refuses bad input with INVALID_ARGUMENT naming the field, and writes nothing", async () => {
    const billing = await startBilling();
    try {
      const head = await store.headPosition();
      await rejects(getBill(billing, { from: at("12:00:00"), to: at("08:00:00") }), status.INVALID_ARGUMENT, /^from: must be before to/);
      await rejects(getBill(billing, { from: at("12:00:00"), to: at("12:00:00") }), status.INVALID_ARGUMENT, /^from: must be before to/);
      await rejects(getBill(billing, { from: "yesterday" }), status.INVALID_ARGUMENT, /^from: must be an ISO 8601 time/);
      await rejects(getBill(billing, { to: "2026-13-45" }), status.INVALID_ARGUMENT, /^to: must be an ISO 8601 time/);
      await rejects(getBill(billing, { by: "week" }), status.INVALID_ARGUMENT, /^by: must be one of class, hour, day, instance/);
      await rejects(getBill(billing, { service: "nope" }), status.INVALID_ARGUMENT, /^service: unknown service "nope"/);
      const client = billing.client;
      await rejects(
        unaryCall(client, client.setBudget, { service: "iris", amountMicros: -1, webhookUrl: "" }, CALL_TIMEOUT_MS),
        status.INVALID_ARGUMENT,
        /^amountMicros: must not be negative/,
      );
      await rejects(
        unaryCall(client, client.setBudget, { service: "iris", amountMicros: 5, webhookUrl: "ftp://hooks/budget" }, CALL_TIMEOUT_MS),
        status.INVALID_ARGUMENT,
        /^webhookUrl: must be http or https/,
      );
      await rejects(
        unaryCall(client, client.setBudget, { service: "nope", amountMicros: 5, webhookUrl: "" }, CALL_TIMEOUT_MS),
        status.INVALID_ARGUMENT,
        /^service: unknown service "nope"/,
      );
      await rejects(
        unaryCall(client, client.setBudget, { service: "", amountMicros: 5, webhookUrl: "" }, CALL_TIMEOUT_MS),
        status.INVALID_ARGUMENT,
        /^service: is required/,
      );
      await rejects(
        unaryCall(client, client.deleteBudget, { service: "iris" }, CALL_TIMEOUT_MS),
        status.NOT_FOUND,
        /budget of service iris/,
      );
      assert.equal(await store.headPosition(), head, "nothing was written");
    } finally {
      await billing.stop();
    }
  });

  it("alerts once at 80 % and once at 100 % of a budget per month and setting, as events", async () => {
    const billing = await startBilling();
    const watch = startBudgetWatch({
      store,
      metering: billing.metering,
      budgets: billing.budgets,
      logger,
      now: () => NOW,
      source: "eas/billing/test",
      intervalMs: 3_600_000,
    });
    const { client } = billing;
    const thresholds = async () =>
      (await store.readStream(budgetStream("iris")))
        .map((r) => decodeEvent(r))
        .flatMap((e) =>
          e?.type === "eas.v1.BudgetThresholdReached" ? [[e.data.thresholdPercent, e.data.amountMicros, e.data.spentMicros]] : [],
        );
    try {
      // iris cost 1,067,400 on the day: 89 % of 1.2 units.
      const set = await unaryCall(client, client.setBudget, { service: "iris", amountMicros: 1_200_000, webhookUrl: "" }, CALL_TIMEOUT_MS);
      assert.deepEqual([set.amountMicros, set.month, set.monthToDateMicros, set.reachedPercent], [1_200_000, "2026-12", 1_067_400, []]);
      await watch.check();
      await watch.check();
      assert.deepEqual(await thresholds(), [[80, 1_200_000, 1_067_400]]);

      // Lowered below the cost: set again, so its thresholds are armed again; both reached at once.
      await unaryCall(client, client.setBudget, { service: "iris", amountMicros: 1_000_000, webhookUrl: "" }, CALL_TIMEOUT_MS);
      await watch.check();
      await watch.check();
      assert.deepEqual(await thresholds(), [
        [80, 1_200_000, 1_067_400],
        [80, 1_000_000, 1_067_400],
        [100, 1_000_000, 1_067_400],
      ]);
      const { budgets } = await unaryCall(client, client.listBudgets, {}, CALL_TIMEOUT_MS);
      assert.deepEqual(
        budgets.map((b) => [b.service, b.amountMicros, b.monthToDateMicros, b.reachedPercent]),
        [["iris", 1_000_000, 1_067_400, [80, 100]]],
      );
      const bill = await getBill(billing, { service: "iris" });
      assert.deepEqual(
        bill.services.map((s) => [s.service, s.monthToDateMicros, s.budgetMicros]),
        [["iris", 1_067_400, 1_000_000]],
      );

      await unaryCall(client, client.deleteBudget, { service: "iris" }, CALL_TIMEOUT_MS);
      assert.deepEqual((await unaryCall(client, client.listBudgets, {}, CALL_TIMEOUT_MS)).budgets, []);
      assert.deepEqual(await watch.check(), []);
    } finally {
      await watch.stop();
      await billing.stop();
    }
  });
});

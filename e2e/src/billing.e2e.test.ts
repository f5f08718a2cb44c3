/*
 * Billing on the local cluster, through its gRPC API and the `eas` CLI: what a service ran is billed from the log, to the
 * micro-unit, at the rates the agents registered from infra/rates.json, and stays the same when the billing
 * restarts; a budget below the cost raises its 80 % and 100 % alerts as events, which the monitor posts to the
 * budget's webhook (a server run here); bad input names its field.
 * The expected bill is computed here from the instance events and the rates file, not by the billing's code.
 */
import { after, before, describe, it } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createServer } from "node:http";
import { promisify } from "node:util";
import { credentials, status, type ServiceError } from "@grpc/grpc-js";
import { BillingClient, type Bill, type EventRecord, type GetBillRequest } from "@eas/proto";
import { waitFor } from "@eas/testing";
import { readEvents, startTestCluster, unaryCall, type TestCluster } from "./cluster-harness.js";

const repoRoot = new URL("../../", import.meta.url).pathname;
const ECHO = readFileSync(`${repoRoot}examples/echo.json`, "utf8");
const HOUR_MS = 3_600_000;
const run = promisify(execFile);

/** Micro-units per hour of the echo example (0.5 core, 256 MiB) on a public node, from infra/rates.json. */
function echoHourlyMicros(): bigint {
  const rates = JSON.parse(readFileSync(`${repoRoot}infra/rates.json`, "utf8")) as { public: Record<string, string> };
  const micros = (text: string) => {
    const [whole, fraction = ""] = text.split(".");
    return BigInt(whole!) * 1_000_000n + BigInt(fraction.padEnd(6, "0"));
  };
  // 0.5 core and 0.25 GiB: per hour, (cpu x 2 + memory) / 4 (exact: both rates are whole micro-units).
  const perHourTimes4 = micros(rates.public.cpu_core_hour!) * 2n + micros(rates.public.memory_gib_hour!);
  assert.equal(perHourTimes4 % 4n, 0n, "the test assumes the rates file's public rates divide evenly");
  return perHourTimes4 / 4n;
}

/** docs/billing.md: [Scheduled, Stopped), cut at UTC hours, each piece rounded half up to a micro-unit. */
function expectedCost(startMs: number, endMs: number, perHour: bigint): bigint {
  let cost = 0n;
  for (let at = startMs; at < endMs;) {
    const next = Math.min(at - (at % HOUR_MS) + HOUR_MS, endMs);
    cost += (BigInt(next - at) * perHour * 2n + BigInt(HOUR_MS)) / (2n * BigInt(HOUR_MS));
    at = next;
  }
  return cost;
}

describe("billing: a service's bill from the log", { timeout: 300_000 }, () => {
  let t: TestCluster;
  let billing: BillingClient;
  const billingAddress = () => `127.0.0.1:${t.cluster.services.get("billing")!.grpcPort}`;
  const getBill = (request: Partial<GetBillRequest>): Promise<Bill> =>
    unaryCall(billing, billing.getBill, { service: "", from: "", to: "", by: "", ...request }, 15_000);
  /** Runs the real `eas` CLI against the test cluster's billing. */
  const eas = async (...args: string[]) =>
    (await run(process.execPath, [`${repoRoot}cli/bin/eas.mjs`, "--json", ...args, "--billing", billingAddress()], { timeout: 120_000 }))
      .stdout;

  before(async () => {
    t = await startTestCluster([{ nodeId: "node-1" }, { nodeId: "node-2" }]);
    billing = new BillingClient(billingAddress(), credentials.createInsecure());
  });
  after(async () => {
    billing?.close();
    await t?.stop();
  });

  it("bills each instance of a stopped service exactly, the same after the billing restarts; a budget alerts at 80 % and 100 %", async () => {
    const from = new Date(Date.now() - HOUR_MS).toISOString();
    await unaryCall(t.client, t.client.createService, { spec: ECHO }, 30_000);
    await unaryCall(t.client, t.client.scaleService, { name: "echo_demo", replicas: 2 }, 30_000);
    await waitFor(
      "2 instances Ready",
      async () => (await unaryCall(t.client, t.client.getService, { name: "echo_demo" }, 10_000)).runningInstances === 2,
      { timeoutMs: 60_000 },
    );
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await unaryCall(t.client, t.client.stopService, { name: "echo_demo" }, 30_000);

    const instanceEvents = async () =>
      (await readEvents(t.client, 0, "eas.v1.Instance")).filter(
        (e) => (JSON.parse(e.dataJson) as { service?: string }).service === "echo_demo",
      );
    let events: EventRecord[] = [];
    await waitFor(
      "every scheduled instance stopped",
      async () => {
        events = await instanceEvents();
        const scheduled = events.filter((e) => e.type === "eas.v1.InstanceScheduled").length;
        const ended = events.filter((e) => e.type === "eas.v1.InstanceStopped" || e.type === "eas.v1.InstanceFailed").length;
        return scheduled >= 2 && ended === scheduled;
      },
      { timeoutMs: 60_000 },
    );
    const perHour = echoHourlyMicros();
    const expected = new Map<string, bigint>();
    for (const e of events.filter((r) => r.type === "eas.v1.InstanceScheduled")) {
      const { instanceId, at } = JSON.parse(e.dataJson) as { instanceId: string; at: string };
      const end = events.find((r) => r.stream === e.stream && (r.type === "eas.v1.InstanceStopped" || r.type === "eas.v1.InstanceFailed"))!;
      expected.set(instanceId, expectedCost(Date.parse(at), Date.parse((JSON.parse(end.dataJson) as { at: string }).at), perHour));
    }

    const to = new Date(Date.now() + HOUR_MS).toISOString();
    const bill = JSON.parse(await eas("bill", "echo_demo", "--from", from, "--to", to, "--by", "instance")) as Bill;
    assert.deepEqual(new Map(bill.lines.map((l) => [l.key, BigInt(l.usage!.costMicros)])), expected);
    assert.ok(bill.lines.every((l) => l.capacityClass === "public" && l.service === "echo_demo"));
    const total = [...expected.values()].reduce((a, b) => a + b, 0n);
    assert.ok(total > 0n, "the instances ran for a while and cost something");
    assert.equal(BigInt(bill.total!.costMicros), total);

    // A restarted billing resumes from its checkpoint (or the log) to the same bill.
    billing.close();
    await t.cluster.kill("billing");
    await t.cluster.restart("billing");
    await waitFor("billing ready again", async () => (await t.readyz("billing")) === 200, { timeoutMs: 60_000 });
    billing = new BillingClient(billingAddress(), credentials.createInsecure());
    const again = await getBill({ service: "echo_demo", from, to, by: "instance" });
    assert.deepEqual({ ...again, now: bill.now }, bill);

    // A budget below what it cost this month, with a webhook: both alerts, once, as events and posts.
    const posts: { service: string; threshold: number; budgetMicros: number }[] = [];
    const hook = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk: Buffer) => (body += chunk.toString()));
      req.on("end", () => {
        posts.push(JSON.parse(body) as (typeof posts)[number]);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => hook.listen(0, "127.0.0.1", resolve));
    const hookAddress = hook.address();
    const hookUrl = `http://127.0.0.1:${typeof hookAddress === "object" && hookAddress ? hookAddress.port : 0}/budget`;
    const budget = total - 1n;
    await eas("budget", "set", "echo_demo", `${budget / 1_000_000n}.${String(budget % 1_000_000n).padStart(6, "0")}`, "--webhook", hookUrl);
    await waitFor("the 80 % and 100 % alerts", async () => (await readEvents(t.client, 0, "eas.v1.BudgetThresholdReached")).length === 2, {
      timeoutMs: 20_000,
      intervalMs: 500,
    });
    const alerts = (await readEvents(t.client, 0, "eas.v1.BudgetThresholdReached")).map(
      (e) => JSON.parse(e.dataJson) as { thresholdPercent: number },
    );
    assert.deepEqual(alerts.map((a) => a.thresholdPercent).sort(), [100, 80]);
    await waitFor("both alerts posted to the budget's webhook", () => posts.length >= 2, { timeoutMs: 15_000, intervalMs: 200 });
    assert.deepEqual(posts.map((p) => [p.service, p.threshold, p.budgetMicros]).sort(), [
      ["echo_demo", 100, Number(budget)],
      ["echo_demo", 80, Number(budget)],
    ]);
    hook.closeAllConnections();
    hook.close();

    await assert.rejects(getBill({ service: "echo_demo", from: to, to: from }), (error: ServiceError) => {
      assert.equal(error.code, status.INVALID_ARGUMENT);
      assert.match(error.details, /^from: must be before to/);
      return true;
    });
  });

  it("refuses bad input through the CLI with the field named, and records no budget", async () => {
    const refused = async (args: string[], message: RegExp) =>
      assert.rejects(eas(...args), (error: Error & { stderr?: string; code?: number }) => {
        assert.notEqual(error.code, 0);
        assert.match(error.stderr ?? "", message);
        return true;
      });
    const budgetEvents = async () => (await readEvents(t.client, 0, "eas.v1.BudgetSet")).length;
    const before = await budgetEvents();
    await refused(["bill", "--from", "2026-12-02T00:00:00Z", "--to", "2026-12-01T00:00:00Z"], /from: must be before to/);
    await refused(["bill", "no_such_service"], /service: unknown service "no_such_service"/);
    await refused(["budget", "set", "echo_demo", "-5"], /amountMicros: must not be negative/);
    await refused(
      ["budget", "set", "echo_demo", "5", "--webhook", "hooks.example/budget"],
      /webhookUrl: "hooks.example\/budget" is not a URL/,
    );
    assert.equal(await budgetEvents(), before, "a refused budget records nothing");
  });
});

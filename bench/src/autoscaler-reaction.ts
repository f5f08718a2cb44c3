/**
 * Autoscaler reaction on the whole local cluster (NATS, every control-plane service, two agents, each its own
 * process), two figures, each against the instance's own start time measured in the same run:
 *
 *  (a) a 10x load step (30 -> 300 req/s, open loop) on an echo service (20 ms, 2 requests at a time per
 *      instance, target 60 req/s per instance): from the step to the scale decision, to the first request
 *      answered by an added instance (X-Eas-Instance), and to the p99 of each 500 ms of sent requests back
 *      under its target (100 ms) for good; the added instance's InstanceScheduled -> InstanceReady is the peer.
 *  (b) scale from zero, `--zero-runs` times (default 20): the service idles to zero, one request arrives; its
 *      latency against that round's instance start (InstanceScheduled -> InstanceReady). Errors are counted.
 *
 *   node --conditions=source --import tsx bench/src/autoscaler-reaction.ts [--zero-runs=20] [--deadline-s=600]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { credentials } from "@grpc/grpc-js";
import { Agent, request } from "undici";
import { startLocalCluster, type LocalCluster } from "@eas/infra";
import { AutoscalerClient, ServiceManagerClient, unaryCall, type EventRecord, type ServiceInfo } from "@eas/proto";
import { waitFor } from "@eas/testing";

const flag = (name: string, fallback: number) => Number(process.argv.find((a) => a.startsWith(`--${name}=`))?.split("=")[1] ?? fallback);
const ZERO_RUNS = flag("zero-runs", 20);
const DEADLINE_S = flag("deadline-s", 600);
const P99_TARGET_MS = 100;
const BASE_RPS = 30;
const STEP_RPS = 300;

const spec = (name: string) =>
  JSON.stringify({
    name,
    metadata: { instance: 1, cpu: 0.25, memory: 128, rpc: { worker_threads: 2, max_queue_size: 5000, keepalive: 20_000 } },
    processor: "echo",
    processor_config: { latency_ms: 20 },
  });

interface Answer {
  sentAt: number;
  endedAt: number;
  status: number;
  instance: string;
}

/** Open loop: `rate` requests a second on a fixed schedule whatever the answers. */
function openLoop(url: string, token: string, agent: Agent, rate: () => number, answers: Answer[]): { stop(): Promise<void> } {
  const pending = new Set<Promise<void>>();
  let sent = 0;
  let last = performance.now();
  let due = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    due += ((now - last) * rate()) / 1000;
    last = now;
    while (sent < Math.floor(due)) {
      sent++;
      const sentAt = Date.now();
      const p = request(url, {
        method: "POST",
        dispatcher: agent,
        headers: { authorization: token, "content-type": "application/json" },
        body: "{}",
      })
        .then(async (r) => {
          await r.body.dump();
          answers.push({ sentAt, endedAt: Date.now(), status: r.statusCode, instance: String(r.headers["x-eas-instance"] ?? "") });
        })
        .catch(() => void answers.push({ sentAt, endedAt: Date.now(), status: 0, instance: "" }));
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
  }, 2);
  return {
    async stop() {
      clearInterval(timer);
      await Promise.all([...pending]);
    },
  };
}

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))] ?? Number.NaN;
}

async function events(client: ServiceManagerClient, typePrefix: string): Promise<EventRecord[]> {
  const stream = client.watchEvents({ fromPosition: 0, typePrefix, follow: false });
  const records: EventRecord[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on("data", (r: EventRecord) => records.push(r));
    stream.on("error", reject);
    stream.on("end", resolve);
  });
  return records;
}

const dataOf = (r: EventRecord) => JSON.parse(r.dataJson) as Record<string, string | number>;

/** InstanceScheduled -> InstanceReady of each instance of `service`, by instance id. */
async function instanceStarts(
  client: ServiceManagerClient,
  service: string,
): Promise<Map<string, { scheduledAt: number; readyAt: number }>> {
  const starts = new Map<string, { scheduledAt: number; readyAt: number }>();
  for (const r of await events(client, "eas.v1.Instance")) {
    const d = dataOf(r);
    if (d.service !== service) continue;
    const id = String(d.instanceId);
    const entry = starts.get(id) ?? { scheduledAt: Number.NaN, readyAt: Number.NaN };
    if (r.type === "eas.v1.InstanceScheduled") entry.scheduledAt = Date.parse(r.time);
    if (r.type === "eas.v1.InstanceReady" && Number.isNaN(entry.readyAt)) entry.readyAt = Date.parse(r.time);
    starts.set(id, entry);
  }
  return starts;
}

async function main(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), "eas-bench-autoscaler-"));
  let cluster: LocalCluster | undefined;
  const deadline = setTimeout(() => {
    console.error(`deadline of ${DEADLINE_S}s passed`);
    void cluster?.stop().finally(() => process.exit(2));
  }, DEADLINE_S * 1000);
  try {
    cluster = await startLocalCluster({
      dataDir,
      randomPorts: true,
      agents: [
        { nodeId: "node-1", cpuMillis: 4000 },
        { nodeId: "node-2", cpuMillis: 4000 },
      ],
      logLevel: "warn",
      onLog: () => {},
    });
    const client = new ServiceManagerClient(cluster.deployerAddress, credentials.createInsecure());
    const autoscaler = new AutoscalerClient(`127.0.0.1:${cluster.services.get("autoscaler")!.grpcPort}`, credentials.createInsecure());
    const agent = new Agent({ connections: 512 });
    const service = (name: string): Promise<ServiceInfo> => unaryCall(client, client.getService, { name });
    for (const name of cluster.services.keys()) {
      const port = cluster.services.get(name)!.httpPort;
      await waitFor(`${name} ready`, async () => (await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined))?.ok === true, {
        timeoutMs: 90_000,
        intervalMs: 200,
      });
    }
    const create = async (name: string) => {
      await unaryCall(client, client.createService, { spec: spec(name) });
      await waitFor(`${name} Running`, async () => (await service(name)).status === "Running", { timeoutMs: 60_000, intervalMs: 100 });
      return service(name);
    };
    console.log(
      `machine: ${cpus().length} cores, load average ${loadavg()
        .map((l) => l.toFixed(1))
        .join(" ")}`,
    );

    // (a) the 10x step
    const step = await create("step");
    await unaryCall(autoscaler, autoscaler.setPolicy, {
      service: "step",
      policy: { minReplicas: 1, maxReplicas: 8, targetQps: 60 },
      easJson: "",
    });
    const original = step.instances[0]!.instanceId;
    const answers: Answer[] = [];
    let rate = BASE_RPS;
    const load = openLoop(`${cluster.gatewayUrl}/api/predict/step`, step.token, agent, () => rate, answers);
    await sleep(8_000);
    const stepAt = Date.now();
    rate = STEP_RPS;
    await sleep(25_000);
    await load.stop();
    const decisions = (await events(client, "eas.v1.ScaleDecided")).filter((r) => dataOf(r).service === "step");
    const firstDecision = decisions.find((r) => Date.parse(r.time) >= stepAt);
    const added = answers
      .filter((a) => a.sentAt >= stepAt && a.status === 200 && a.instance && a.instance !== original)
      .sort((a, b) => a.endedAt - b.endedAt)[0];
    const starts = await instanceStarts(client, "step");
    const addedStart = added ? starts.get(added.instance) : undefined;
    // p99 per 500 ms of sent requests after the step; "back" = the first slice from which every later one is under target.
    const slices: { from: number; p99: number }[] = [];
    for (let from = stepAt; from < stepAt + 25_000; from += 500) {
      const inSlice = answers.filter((a) => a.sentAt >= from && a.sentAt < from + 500).map((a) => a.endedAt - a.sentAt);
      if (inSlice.length > 0) slices.push({ from, p99: quantile(inSlice, 0.99) });
    }
    let backAt: number | undefined;
    for (let i = slices.length - 1; i >= 0 && slices[i]!.p99 < P99_TARGET_MS; i--) backAt = slices[i]!.from;
    const failed = answers.filter((a) => a.status !== 200).length;
    console.log("\n(a) 10x load step, 30 -> 300 req/s, target 60 req/s per instance, echo 20 ms x 2 per instance");
    console.log(
      `  step -> first scale decision:                 ${firstDecision ? Date.parse(firstDecision.time) - stepAt : "none"} ms  (${firstDecision ? dataOf(firstDecision).reason : ""})`,
    );
    console.log(`  step -> first added instance serving:         ${added ? added.endedAt - stepAt : "none"} ms`);
    console.log(
      `  peer: that instance's own start (Scheduled -> Ready): ${addedStart ? addedStart.readyAt - addedStart.scheduledAt : "?"} ms` +
        (added && addedStart
          ? `; the rest of the reaction: ${added.endedAt - stepAt - (addedStart.readyAt - addedStart.scheduledAt)} ms`
          : ""),
    );
    console.log(`  step -> p99 back under ${P99_TARGET_MS} ms for good:          ${backAt !== undefined ? backAt - stepAt : "never"} ms`);
    console.log(`  replicas now: ${(await service("step")).desiredInstances}; requests ${answers.length}, failed ${failed}`);

    // (b) scale from zero
    const zero = await create("zero");
    await unaryCall(autoscaler, autoscaler.setPolicy, {
      service: "zero",
      policy: { minReplicas: 0, maxReplicas: 2, targetConcurrency: 4, scaleToZeroGraceSeconds: 1 },
      easJson: "",
    });
    const rounds: { latency: number; start: number }[] = [];
    let errors = 0;
    for (let round = 0; round < ZERO_RUNS; round++) {
      await waitFor(
        "at zero",
        async () => {
          const now = await service("zero");
          return now.desiredInstances === 0 && now.totalInstances === 0;
        },
        { timeoutMs: 60_000, intervalMs: 100 },
      );
      const before = new Set((await instanceStarts(client, "zero")).keys());
      const sentAt = Date.now();
      const answer = await request(`${cluster.gatewayUrl}/api/predict/zero`, {
        method: "POST",
        dispatcher: agent,
        headers: { authorization: zero.token, "content-type": "application/json" },
        body: "{}",
      });
      await answer.body.dump();
      const latency = Date.now() - sentAt;
      if (answer.statusCode !== 200) errors++;
      const started = [...(await instanceStarts(client, "zero")).entries()].find(([id]) => !before.has(id))?.[1];
      rounds.push({ latency, start: started ? started.readyAt - started.scheduledAt : Number.NaN });
    }
    const latencies = rounds.map((r) => r.latency);
    const startsMs = rounds.map((r) => r.start).filter((s) => !Number.isNaN(s));
    console.log(`\n(b) scale from zero, ${ZERO_RUNS} rounds of one request after the service idled to zero`);
    console.log(
      `  first-request latency: median ${quantile(latencies, 0.5)} ms, p90 ${quantile(latencies, 0.9)} ms, max ${Math.max(...latencies)} ms; errors ${errors}`,
    );
    console.log(`  peer: the instance's own start (Scheduled -> Ready): median ${quantile(startsMs, 0.5)} ms`);
    console.log(
      `  ratio latency / start (medians): x${(quantile(latencies, 0.5) / quantile(startsMs, 0.5)).toFixed(2)}; overhead ${quantile(latencies, 0.5) - quantile(startsMs, 0.5)} ms`,
    );
    client.close();
    autoscaler.close();
    await agent.close();
  } finally {
    clearTimeout(deadline);
    await cluster?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

await main();

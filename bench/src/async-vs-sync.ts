/**
 * Async vs sync: submit -> result throughput and latency of an async service, against the same backend (an echo
 * processor at zero latency, one instance, 64 requests at once) behind the sync gateway, in the same run on the
 * whole local cluster; then a batch job's lines per second.
 *
 *   node --conditions=source --import tsx bench/src/async-vs-sync.ts [--duration 10] [--rounds 2] [--concurrency 64] [--batch-lines 10000]
 *
 * Both services are deployed the ordinary way (`CreateService`, the agent starts their echo instances). Each
 * round runs a closed loop of `concurrency` clients for `duration` seconds on each service in turn:
 *   - sync: POST /api/predict/sync_bench, the request answered by the instance through the gateway;
 *   - async: POST /api/predict/async_bench (the gateway queues it on JetStream and answers with the id), then
 *     the result arrives on the results watch (GET .../results, server-sent events) opened once before: the
 *     latency is from the POST to the result's event, the client's next request starts then.
 * It prints requests/s and p50/p99 of each, and async/sync. Then a batch job of `batch-lines` lines (file:// in
 * and out) on the async service: lines per second from submit to Completed.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import { build } from "hdr-histogram-js";
import { Agent, request } from "undici";
import { startLocalCluster, type LocalCluster } from "@eas/infra";
import { AgentClient, AsyncQueueClient, SchedulerClient, ServiceManagerClient, unaryCall, type ServiceInfo } from "@eas/proto";
import { waitFor } from "@eas/testing";

interface Options {
  durationS: number;
  rounds: number;
  concurrency: number;
  batchLines: number;
}

function options(argv: string[]): Options {
  const flag = (name: string, fallback: number) => {
    const at = argv.indexOf(`--${name}`);
    const value = at >= 0 ? Number(argv[at + 1]) : fallback;
    if (!Number.isFinite(value) || value <= 0) throw new Error(`--${name} must be a positive number`);
    return value;
  };
  return {
    durationS: flag("duration", 10),
    rounds: flag("rounds", 2),
    concurrency: flag("concurrency", 64),
    batchLines: flag("batch-lines", 10_000),
  };
}

interface Run {
  target: "sync" | "async";
  requests: number;
  errors: number;
  perSecond: number;
  p50: number;
  p99: number;
  /** CPU microseconds per request, by process. */
  cpuUs?: Record<string, number>;
}

/** utime + stime of a process, seconds (USER_HZ 100). */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** The first process whose command line contains `needle`. */
function findPid(needle: string): number | undefined {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, "utf8").includes(needle)) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** Runs `work` and adds, per process, its CPU time per request (µs) over the run. */
async function measured(processes: Record<string, number>, work: () => Promise<Run>): Promise<Run> {
  const before = Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, cpuSeconds(pid)]));
  const run = await work();
  const cpuUs: Record<string, number> = {};
  for (const [name, pid] of Object.entries(processes))
    cpuUs[name] = ((cpuSeconds(pid) - (before[name] ?? 0)) * 1e6) / Math.max(1, run.requests);
  return { ...run, cpuUs };
}

const http = new Agent({ connections: 512, pipelining: 1 });

async function runSync(info: ServiceInfo, o: Options): Promise<Run> {
  const histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 2 });
  const deadline = performance.now() + o.durationS * 1_000;
  let requests = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (performance.now() < deadline) {
        const start = performance.now();
        const response = await request(info.endpoint, {
          method: "POST",
          headers: { authorization: info.token, "content-type": "application/json" },
          body: '{"x":1}',
          dispatcher: http,
        });
        await response.body.dump();
        if (response.statusCode === 200) {
          requests++;
          histogram.recordValue(Math.round((performance.now() - start) * 1_000));
        } else errors++;
      }
    }),
  );
  return {
    target: "sync",
    requests,
    errors,
    perSecond: requests / o.durationS,
    p50: histogram.getValueAtPercentile(50) / 1_000,
    p99: histogram.getValueAtPercentile(99) / 1_000,
  };
}

/** The results watch of a service: resolves each request id's waiter when its result arrives. */
function watchResults(info: ServiceInfo): { wait(id: string): Promise<number>; close(): void; ready: Promise<void> } {
  const waiters = new Map<string, (at: number) => void>();
  const early = new Map<string, number>();
  const controller = new AbortController();
  let opened: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (opened = resolve));
  void (async () => {
    const response = await fetch(`${info.endpoint}/results`, { headers: { authorization: info.token }, signal: controller.signal });
    opened();
    const decoder = new TextDecoder();
    let buffered = "";
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      const at = performance.now();
      buffered += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffered.indexOf("\n\n")) >= 0) {
        const data = /^data: (.*)$/m.exec(buffered.slice(0, end))?.[1];
        buffered = buffered.slice(end + 2);
        if (!data) continue;
        const id = (JSON.parse(data) as { request_id: string }).request_id;
        const waiter = waiters.get(id);
        if (waiter) {
          waiters.delete(id);
          waiter(at);
        } else early.set(id, at);
      }
    }
  })().catch(() => undefined);
  return {
    ready,
    wait: (id) => {
      const at = early.get(id);
      if (at !== undefined) {
        early.delete(id);
        return Promise.resolve(at);
      }
      return new Promise((resolve) => waiters.set(id, resolve));
    },
    close: () => controller.abort(),
  };
}

async function runAsync(info: ServiceInfo, o: Options): Promise<Run> {
  const histogram = build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 2 });
  const watch = watchResults(info);
  await watch.ready;
  const deadline = performance.now() + o.durationS * 1_000;
  let requests = 0;
  let errors = 0;
  await Promise.all(
    Array.from({ length: o.concurrency }, async () => {
      while (performance.now() < deadline) {
        const start = performance.now();
        const response = await request(info.endpoint, {
          method: "POST",
          headers: { authorization: info.token, "content-type": "application/json" },
          body: '{"x":1}',
          dispatcher: http,
        });
        await response.body.dump();
        const id = response.headers["x-eas-queueservice-request-id"];
        if (response.statusCode !== 200 || typeof id !== "string") {
          errors++;
          continue;
        }
        const resultAt = await watch.wait(id);
        requests++;
        histogram.recordValue(Math.round((resultAt - start) * 1_000));
      }
    }),
  );
  watch.close();
  return {
    target: "async",
    requests,
    errors,
    perSecond: requests / o.durationS,
    p50: histogram.getValueAtPercentile(50) / 1_000,
    p99: histogram.getValueAtPercentile(99) / 1_000,
  };
}

/** The processes a request goes through: the gateway, the async-queue, nats-server, both echo instances, this bench. */
async function processTable(cluster: LocalCluster, dataDir: string): Promise<Record<string, number>> {
  const table: Record<string, number> = { bench: process.pid };
  for (const name of ["gateway", "async-queue"]) {
    const pid = cluster.services.get(name)?.child?.pid;
    if (pid) table[name] = pid;
  }
  const nats = findPid(join(dataDir, "nats"));
  if (nats) table["nats-server"] = nats;
  const scheduler = new SchedulerClient(cluster.schedulerAddress, credentials.createInsecure());
  const { nodes } = await unaryCall(scheduler, scheduler.listNodes, {});
  scheduler.close();
  for (const node of nodes) {
    const agent = new AgentClient(node.agentAddress, credentials.createInsecure());
    for (const instance of (await unaryCall(agent, agent.listInstances, {})).instances) table[`echo(${instance.service})`] = instance.pid;
    agent.close();
  }
  return table;
}

async function create(client: ServiceManagerClient, spec: object): Promise<ServiceInfo> {
  await unaryCall(client, client.createService, { spec: JSON.stringify(spec) });
  const name = (spec as { metadata: { name: string } }).metadata.name;
  return waitFor(
    `${name} Running`,
    async () => {
      const info = await unaryCall(client, client.getService, { name });
      return info.status === "Running" ? info : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 200 },
  );
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  const folder = mkdtempSync(join(tmpdir(), "eas-bench-async-"));
  let cluster: LocalCluster | undefined;
  const stop = async () => {
    await cluster?.stop();
    rmSync(folder, { recursive: true, force: true });
  };
  process.once("SIGINT", () => void stop().then(() => process.exit(130)));
  try {
    cluster = await startLocalCluster({
      dataDir: join(folder, "data"),
      randomPorts: true,
      agents: [{ nodeId: "bench-node", cpuMillis: 8_000, memoryMib: 8_192 }],
      logLevel: "warn",
      onLog: () => undefined,
    });
    const client = new ServiceManagerClient(cluster.deployerAddress, credentials.createInsecure());
    await waitFor(
      "the deployer",
      async () =>
        (await unaryCall(client, client.listServices, {}).then(
          () => true,
          () => false,
        )) || undefined,
      { timeoutMs: 90_000 },
    );
    const common = { instance: 1, cpu: 1, memory: 256, rpc: { worker_threads: o.concurrency, max_queue_size: 1_000, keepalive: 30_000 } };
    const sync = await create(client, { metadata: { name: "sync_bench", ...common }, processor: "echo" });
    const queued = await create(client, {
      metadata: { name: "async_bench", type: "Async", ...common },
      processor: "echo",
      queue: { max_length: 100_000 },
    });
    await waitFor("the async queue ready", async () => {
      const response = await request(queued.endpoint, {
        method: "POST",
        headers: { authorization: queued.token },
        body: "{}",
        dispatcher: http,
      });
      await response.body.dump();
      return response.statusCode === 200;
    });

    // CPU per request by process: far less sensitive to other load on the machine than requests per second.
    const processes = await processTable(cluster, join(folder, "data"));
    console.log(
      `async vs sync, echo at zero latency, ${o.concurrency} clients, ${o.durationS} s per run, ${o.rounds} rounds; ${cpus().length} cores, load ${loadavg()[0]?.toFixed(1)}`,
    );
    // Warm-up: JIT in every process on both paths.
    await runSync(sync, { ...o, durationS: 2 });
    await runAsync(queued, { ...o, durationS: 2 });
    const runs: Run[] = [];
    for (let round = 0; round < o.rounds; round++) {
      for (const run of [await measured(processes, () => runSync(sync, o)), await measured(processes, () => runAsync(queued, o))]) {
        runs.push(run);
        const cpu = Object.entries(run.cpuUs ?? {})
          .filter(([, us]) => us >= 1)
          .map(([name, us]) => `${name} ${us.toFixed(0)}`)
          .join(", ");
        console.log(
          `  round ${round + 1} ${run.target.padEnd(5)} ${run.perSecond.toFixed(0).padStart(6)} req/s  p50 ${run.p50.toFixed(1)} ms  p99 ${run.p99.toFixed(1)} ms  errors ${run.errors}  CPU us/request: ${cpu}`,
        );
      }
    }
    const mean = (target: Run["target"], pick: (run: Run) => number) => {
      const mine = runs.filter((run) => run.target === target);
      return mine.reduce((sum, run) => sum + pick(run), 0) / mine.length;
    };
    const syncRate = mean("sync", (run) => run.perSecond);
    const asyncRate = mean("async", (run) => run.perSecond);
    console.log(
      `sync  ${syncRate.toFixed(0)} req/s  p50 ${mean("sync", (run) => run.p50).toFixed(1)} ms  p99 ${mean("sync", (run) => run.p99).toFixed(1)} ms`,
    );
    console.log(
      `async ${asyncRate.toFixed(0)} req/s  p50 ${mean("async", (run) => run.p50).toFixed(1)} ms  p99 ${mean("async", (run) => run.p99).toFixed(1)} ms (submit -> result on the watch)`,
    );
    console.log(`async/sync throughput: ${(asyncRate / syncRate).toFixed(2)}x (goal >= 0.5x)`);
    const cpuTotal = (target: Run["target"]) => mean(target, (run) => Object.values(run.cpuUs ?? {}).reduce((sum, us) => sum + us, 0));
    console.log(
      `CPU per request, every process: sync ${cpuTotal("sync").toFixed(0)} us, async ${cpuTotal("async").toFixed(0)} us: sync/async ${(cpuTotal("sync") / cpuTotal("async")).toFixed(2)}x (the throughput ratio on a machine where CPU is the limit)`,
    );

    const input = join(folder, "batch.jsonl");
    writeFileSync(input, Array.from({ length: o.batchLines }, (_, n) => JSON.stringify({ n })).join("\n") + "\n");
    const queue = new AsyncQueueClient(`127.0.0.1:${cluster.services.get("async-queue")!.grpcPort}`, credentials.createInsecure());
    const started = performance.now();
    const job = await unaryCall(queue, queue.submitBatch, {
      service: "async_bench",
      input: `file://${input}`,
      output: `file://${join(folder, "batch.out.jsonl")}`,
    });
    const done = await waitFor(
      "the batch job",
      async () => {
        const current = await unaryCall(queue, queue.getBatch, { jobId: job.jobId });
        if (current.state === "Failed" || current.state === "Cancelled") throw new Error(`${current.state}: ${current.reason}`);
        return current.state === "Completed" ? current : undefined;
      },
      { timeoutMs: 600_000, intervalMs: 50 },
    );
    const seconds = (performance.now() - started) / 1_000;
    console.log(
      `batch ${o.batchLines} lines in ${seconds.toFixed(1)} s: ${(o.batchLines / seconds).toFixed(0)} lines/s (ok ${done.okLines})`,
    );
    queue.close();
    client.close();
  } finally {
    await http.close();
    await stop();
  }
}

await main();

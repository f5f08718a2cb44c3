/**
 * Create to ready: how long a new service takes from `CreateService` until its first instance is Ready,
 * and until the gateway answers its first request, on the whole local cluster (NATS, every control-plane
 * service and one agent, each its own process, as `scripts/up.sh` runs them).
 *
 *   node --conditions=source --import tsx bench/src/create-to-ready.ts [runs] [--warmup=1] [--boot-runs=5] [--deadline-s=170]
 *
 * Runs default to 20 (or EAS_BENCH_RUNS). Each run creates an echo-processor service with one instance over
 * gRPC, then measures two things from just before the CreateService call:
 *   - ready: until the bench receives the service's `eas.v1.InstanceReady` event on a `WatchEvents` stream
 *     (server streaming, `follow: true`) opened once before the first run; more precise than polling;
 *   - gateway: until `POST /api/predict/<name>` with the service's token answers 200 (polled every 10 ms).
 * The run's event timestamps (ServiceCreated, InstanceScheduled, InstanceStarting, InstanceReady) give where
 * the time goes. Then the service is deleted and the run waits until the scheduler reports no instance
 * left, so the runs do not pile up. `--warmup` runs first and is reported apart (cold JIT in every service).
 * As a peer, `--boot-runs` (default 5) times the echo processor started by hand as the agent starts it,
 * until its /healthz answers: what InstanceStarting -> InstanceReady would be without the agent's probe period.
 * The cluster runs in a temporary folder on free ports and is stopped on every exit path (error, deadline,
 * Ctrl-C); the whole run is bounded by `--deadline-s`.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { credentials, type ClientReadableStream } from "@grpc/grpc-js";
import { startLocalCluster, type LocalCluster } from "@eas/infra";
import { SchedulerClient, ServiceManagerClient, unaryCall, type EventRecord } from "@eas/proto";
import { freePort, waitFor } from "@eas/testing";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

interface Settings {
  runs: number;
  warmup: number;
  bootRuns: number;
  deadlineS: number;
}

function settings(argv: string[]): Settings {
  const flag = (name: string) => argv.find((arg) => arg.startsWith(`--${name}=`))?.split("=")[1];
  const positional = argv.find((arg) => /^\d+$/.test(arg));
  const parsed: Settings = {
    runs: Number(positional ?? flag("runs") ?? process.env.EAS_BENCH_RUNS ?? 20),
    warmup: Number(flag("warmup") ?? 1),
    bootRuns: Number(flag("boot-runs") ?? 5),
    deadlineS: Number(flag("deadline-s") ?? 170),
  };
  if (!Number.isSafeInteger(parsed.runs) || parsed.runs <= 0) throw new Error(`runs must be a positive integer, got ${parsed.runs}`);
  if (!Number.isSafeInteger(parsed.warmup) || parsed.warmup < 0) throw new Error(`warmup must be an integer >= 0, got ${parsed.warmup}`);
  if (!Number.isSafeInteger(parsed.bootRuns) || parsed.bootRuns < 0)
    throw new Error(`boot-runs must be an integer >= 0, got ${parsed.bootRuns}`);
  if (!(parsed.deadlineS > 0)) throw new Error(`deadline-s must be positive, got ${parsed.deadlineS}`);
  return parsed;
}

/** Wall-clock milliseconds with sub-millisecond resolution, comparable with event timestamps. */
const nowMs = () => performance.timeOrigin + performance.now();

/** An event of the service being measured, with when the bench received it. */
interface Seen {
  type: string;
  /** The event's own time (set by the process that appended it), ms since the epoch. */
  eventMs: number;
  receivedMs: number;
}

/**
 * One `WatchEvents` stream for the whole bench: every event is routed to the run of the service it belongs
 * to (`service-<name>` streams by name, instance events by their `service` field).
 */
class EventWatch {
  readonly #stream: ClientReadableStream<EventRecord>;
  readonly #runs = new Map<string, { seen: Seen[]; onReady: (receivedMs: number) => void }>();
  #failure: Error | undefined;
  readonly ended: Promise<void>;

  constructor(client: ServiceManagerClient) {
    this.#stream = client.watchEvents({ fromPosition: 0, typePrefix: "", follow: true });
    this.ended = new Promise((resolve) => {
      this.#stream.on("error", (error: Error) => {
        this.#failure = error;
        resolve();
      });
      this.#stream.on("end", () => {
        this.#failure ??= new Error("WatchEvents ended");
        resolve();
      });
    });
    this.#stream.on("data", (record: EventRecord) => this.#route(record));
  }

  #route(record: EventRecord): void {
    const receivedMs = nowMs();
    let service: string | undefined;
    if (record.stream.startsWith("service-")) service = record.stream.slice("service-".length);
    else if (record.stream.startsWith("instance-")) service = (JSON.parse(record.dataJson) as { service?: string }).service;
    const run = service === undefined ? undefined : this.#runs.get(service);
    if (!run) return;
    run.seen.push({ type: record.type, eventMs: Date.parse(record.time), receivedMs });
    if (record.type === "eas.v1.InstanceReady") run.onReady(receivedMs);
  }

  /** Starts collecting a service's events; resolves at its first InstanceReady. */
  follow(service: string, timeoutMs: number): { seen: Seen[]; ready: Promise<number> } {
    const seen: Seen[] = [];
    const ready = new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no InstanceReady for ${service} within ${timeoutMs} ms`)), timeoutMs);
      const onReady = (receivedMs: number) => {
        clearTimeout(timer);
        resolve(receivedMs);
      };
      if (this.#failure) {
        clearTimeout(timer);
        reject(this.#failure);
      }
      void this.ended.then(() => {
        clearTimeout(timer);
        reject(this.#failure);
      });
      this.#runs.set(service, { seen, onReady });
    });
    ready.catch(() => undefined);
    return { seen, ready };
  }

  forget(service: string): void {
    this.#runs.delete(service);
  }

  close(): void {
    this.#stream.cancel();
  }
}

interface RunResult {
  name: string;
  createRpcMs: number;
  readyMs: number;
  gatewayMs: number;
  deleteMs: number;
  /** From event timestamps: ServiceCreated -> InstanceScheduled -> InstanceStarting -> InstanceReady. */
  createdToScheduledMs: number;
  scheduledToStartingMs: number;
  startingToReadyMs: number;
  /** InstanceReady's timestamp to the bench receiving it over WatchEvents. */
  readyDeliveryMs: number;
  /** CreateService call start to ServiceCreated's timestamp. */
  callToCreatedMs: number;
}

const RUN_TIMEOUT_MS = 60_000;

async function gatewayAnswers(url: string, token: string, startMs: number, deadlineMs: number): Promise<number> {
  for (;;) {
    try {
      const response = await fetch(url, {
        method: "POST",
        headers: { Authorization: token, "Content-Type": "application/json" },
        body: "{}",
        signal: AbortSignal.timeout(2_000),
      });
      await response.arrayBuffer();
      if (response.status === 200) return nowMs() - startMs;
    } catch {
      // Not reachable yet: keep polling.
    }
    if (nowMs() > deadlineMs) throw new Error(`${url} did not answer 200 within ${RUN_TIMEOUT_MS} ms`);
    await sleep(10);
  }
}

async function measureOne(
  name: string,
  cluster: LocalCluster,
  client: ServiceManagerClient,
  scheduler: SchedulerClient,
  watch: EventWatch,
): Promise<RunResult> {
  const spec = JSON.stringify({ name, metadata: { instance: 1, cpu: 0.1, memory: 64 }, processor: "echo" });
  const { seen, ready } = watch.follow(name, RUN_TIMEOUT_MS);
  try {
    const start = nowMs();
    const info = await unaryCall(client, client.createService, { spec });
    const createRpcMs = nowMs() - start;
    const gateway = gatewayAnswers(`${cluster.gatewayUrl}/api/predict/${name}`, info.token, start, start + RUN_TIMEOUT_MS);
    gateway.catch(() => undefined);
    const readyAt = await ready;
    const gatewayMs = await gateway;
    const at = (type: string) => {
      const event = seen.find((s) => s.type === `eas.v1.${type}`);
      if (!event) throw new Error(`${name}: no ${type} event seen`);
      return event;
    };
    const created = at("ServiceCreated");
    const scheduled = at("InstanceScheduled");
    const starting = at("InstanceStarting");
    const readyEvent = at("InstanceReady");

    const deleteStart = nowMs();
    await unaryCall(client, client.deleteService, { name });
    await waitFor(
      `${name}'s instance gone from the scheduler`,
      async () => {
        const { nodes } = await unaryCall(scheduler, scheduler.listNodes, {});
        return nodes.every((n) => n.instanceCount === 0);
      },
      { timeoutMs: RUN_TIMEOUT_MS, intervalMs: 20 },
    );
    return {
      name,
      createRpcMs,
      readyMs: readyAt - start,
      gatewayMs,
      deleteMs: nowMs() - deleteStart,
      createdToScheduledMs: scheduled.eventMs - created.eventMs,
      scheduledToStartingMs: starting.eventMs - scheduled.eventMs,
      startingToReadyMs: readyEvent.eventMs - starting.eventMs,
      readyDeliveryMs: readyEvent.receivedMs - readyEvent.eventMs,
      callToCreatedMs: created.eventMs - start,
    };
  } finally {
    watch.forget(name);
  }
}

/**
 * The peer: the echo processor started by hand the way the agent starts it (same node, same tsx loader,
 * same entry point), timed from spawn until its /healthz answers 200, polled every 10 ms. This is the
 * floor under InstanceStarting -> InstanceReady, whose readiness probe runs every second.
 */
async function processorBoot(): Promise<number> {
  const port = await freePort();
  const tsx = pathToFileURL(createRequire(join(repoRoot, "package.json")).resolve("tsx")).href;
  const start = nowMs();
  const child = spawn(process.execPath, ["--conditions=source", "--import", tsx, join(repoRoot, "processors/echo/src/main.ts")], {
    cwd: join(repoRoot, "processors/echo"),
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "", PORT: String(port), HOST: "127.0.0.1", EAS_PROCESSOR_CONFIG: "{}" },
    stdio: "ignore",
  });
  const exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));
  try {
    await waitFor(
      "the echo processor's /healthz",
      () =>
        fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1_000) }).then(
          (r) => r.status === 200,
          () => false,
        ),
      { timeoutMs: 30_000, intervalMs: 10 },
    );
    return nowMs() - start;
  } finally {
    child.kill("SIGTERM");
    const killer = setTimeout(() => child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(killer);
  }
}

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const ms = (value: number) => value.toFixed(1);

class DeadlineError extends Error {
  constructor(readonly seconds: number) {
    super(`the benchmark ran past its ${seconds} s deadline`);
    this.name = "DeadlineError";
  }
}

async function main(): Promise<void> {
  const config = settings(process.argv.slice(2));
  const dataDir = mkdtempSync(join(tmpdir(), "eas-bench-c2r-"));
  const logs: string[] = [];
  let cluster: LocalCluster | undefined;
  let clusterPromise: Promise<LocalCluster> | undefined;
  let client: ServiceManagerClient | undefined;
  let scheduler: SchedulerClient | undefined;
  let watch: EventWatch | undefined;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new DeadlineError(config.deadlineS)), config.deadlineS * 1000);
  });
  deadline.catch(() => undefined);
  const bounded = <T>(work: Promise<T>): Promise<T> => Promise.race([work, deadline]);
  let cleaning: Promise<void> | undefined;
  const cleanup = () =>
    (cleaning ??= (async () => {
      clearTimeout(timer);
      watch?.close();
      client?.close();
      scheduler?.close();
      // The deadline may win the race against the launch: the cluster it then brings up is stopped too.
      const launched = cluster ?? (await clusterPromise?.catch(() => undefined));
      await launched?.stop().catch((error: unknown) => console.error("stopping the cluster:", error));
      rmSync(dataDir, { recursive: true, force: true });
    })());
  let interrupted = false;
  const onSignal = () => {
    interrupted = true;
    void cleanup().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  const started = nowMs();
  try {
    console.log(
      `create-to-ready bench: ${config.runs} runs (+${config.warmup} warm-up), echo processor, 1 instance; ` +
        `node ${process.version}, ${cpus().length} CPUs, load average ${loadavg()
          .map((l) => l.toFixed(2))
          .join(" ")}`,
    );
    clusterPromise = startLocalCluster({
      dataDir,
      randomPorts: true,
      logLevel: "info",
      agents: [{ nodeId: "node-1", cpuMillis: 64_000, memoryMib: 65_536 }],
      onLog: (service, line) => {
        logs.push(`[${service}] ${line}`);
        if (logs.length > 400) logs.shift();
      },
    });
    cluster = await bounded(clusterPromise);
    const up = cluster;
    for (const [service, entry] of up.services) {
      await bounded(
        waitFor(
          `${service} /readyz`,
          () =>
            fetch(`http://127.0.0.1:${entry.httpPort}/readyz`).then(
              (r) => r.status === 200,
              () => false,
            ),
          { timeoutMs: 90_000, intervalMs: 100 },
        ),
      );
    }
    client = new ServiceManagerClient(up.deployerAddress, credentials.createInsecure());
    scheduler = new SchedulerClient(up.schedulerAddress, credentials.createInsecure());
    const schedulerClient = scheduler;
    await bounded(
      waitFor(
        "node-1 registered and Ready",
        async () =>
          (await unaryCall(schedulerClient, schedulerClient.listNodes, {})).nodes.some(
            (n) => n.nodeId === "node-1" && n.status === "Ready",
          ),
        { timeoutMs: 30_000, intervalMs: 100 },
      ),
    );
    watch = new EventWatch(client);
    const clusterUpS = (nowMs() - started) / 1000;
    console.log(`cluster up and every /readyz 200 in ${clusterUpS.toFixed(1)} s (${up.services.size} processes + nats-server)`);

    const warmups: RunResult[] = [];
    const results: RunResult[] = [];
    for (let i = 0; i < config.warmup + config.runs; i++) {
      const warm = i < config.warmup;
      const name = warm ? `bench_warmup_${i}` : `bench_${i - config.warmup}`;
      const result = await bounded(measureOne(name, up, client, scheduler, watch));
      (warm ? warmups : results).push(result);
      console.log(
        `  ${name.padEnd(15)} ready ${ms(result.readyMs).padStart(7)} ms, gateway 200 ${ms(result.gatewayMs).padStart(7)} ms ` +
          `(create rpc ${ms(result.createRpcMs)}, created->scheduled ${ms(result.createdToScheduledMs)}, ` +
          `scheduled->starting ${ms(result.scheduledToStartingMs)}, starting->ready ${ms(result.startingToReadyMs)}; delete ${ms(result.deleteMs)} ms)`,
      );
    }

    const stat = (pick: (r: RunResult) => number) => {
      const values = results.map(pick);
      return { median: percentile(values, 50), p90: percentile(values, 90), min: Math.min(...values), max: Math.max(...values) };
    };
    const rows: Record<string, Record<string, string>> = {};
    for (const [label, pick] of [
      ["create -> InstanceReady received", (r: RunResult) => r.readyMs],
      ["create -> gateway 200", (r: RunResult) => r.gatewayMs],
      ["CreateService rpc", (r: RunResult) => r.createRpcMs],
      ["delete -> instance gone", (r: RunResult) => r.deleteMs],
      ["InstanceStarting -> InstanceReady (event times)", (r: RunResult) => r.startingToReadyMs],
      ["InstanceReady event -> received (WatchEvents delivery)", (r: RunResult) => r.readyDeliveryMs],
    ] as const) {
      const s = stat(pick);
      rows[label] = { "median ms": ms(s.median), "p90 ms": ms(s.p90), "min ms": ms(s.min), "max ms": ms(s.max) };
    }
    console.log(`\nresults over ${results.length} runs (warm-up excluded):`);
    console.table(rows);

    // The run whose ready time is the median (lower median for an even count).
    const byReady = [...results].sort((a, b) => a.readyMs - b.readyMs);
    const mid = byReady[Math.floor((byReady.length - 1) / 2)]!;
    console.log(`breakdown of the median run (${mid.name}, ready ${ms(mid.readyMs)} ms), from the event timestamps:`);
    console.table({
      "CreateService call -> ServiceCreated": { ms: ms(mid.callToCreatedMs) },
      "ServiceCreated -> InstanceScheduled": { ms: ms(mid.createdToScheduledMs) },
      "InstanceScheduled -> InstanceStarting": { ms: ms(mid.scheduledToStartingMs) },
      "InstanceStarting -> InstanceReady": { ms: ms(mid.startingToReadyMs) },
      "InstanceReady -> received over WatchEvents": { ms: ms(mid.readyDeliveryMs) },
      "create -> gateway 200 (same run)": { ms: ms(mid.gatewayMs) },
    });
    const medianOf = (pick: (r: RunResult) => number) => percentile(results.map(pick), 50);
    console.log(
      `median of each step over all runs: created->scheduled ${ms(medianOf((r) => r.createdToScheduledMs))} ms, ` +
        `scheduled->starting ${ms(medianOf((r) => r.scheduledToStartingMs))} ms, starting->ready ${ms(medianOf((r) => r.startingToReadyMs))} ms, ` +
        `ready delivery ${ms(medianOf((r) => r.readyDeliveryMs))} ms`,
    );
    const boots: number[] = [];
    for (let i = 0; i < config.bootRuns; i++) boots.push(await bounded(processorBoot()));
    if (boots.length > 0) {
      console.log(
        `peer: echo processor boot alone (spawn -> /healthz 200, polled every 10 ms, cluster idle), ${boots.length} runs: ` +
          `median ${ms(percentile(boots, 50))} ms, min ${ms(Math.min(...boots))} ms, max ${ms(Math.max(...boots))} ms ` +
          `(runs: ${boots.map(ms).join(", ")})`,
      );
    }
    for (const w of warmups) console.log(`warm-up ${w.name}: ready ${ms(w.readyMs)} ms, gateway 200 ${ms(w.gatewayMs)} ms`);
    console.log(
      `total run ${((nowMs() - started) / 1000).toFixed(1)} s; load average ${loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
    );
  } catch (error) {
    if (!interrupted) console.error(`last cluster log lines:\n${logs.slice(-60).join("\n")}`);
    throw error;
  } finally {
    await cleanup();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

try {
  await main();
} catch (error) {
  console.error(error);
  process.exitCode = 1;
}
// A poll or stream still pending when the deadline hit would keep the process alive; the cluster is stopped by now.
process.exit();

/**
 * Stress-test load worker vs wrk: the highest rate one loadgen process sustains against the echo
 * processor, next to wrk's on the same target in the same run, and how exactly it holds a rate.
 *
 *   node --conditions=source --import tsx bench/src/stress-worker.ts [--duration 8] [--connections 64] [--rates 1000,5000] [--rounds 3] [--steps 6]
 *
 * 1. wrk (one thread, `--connections` connections, closed loop: as fast as the target answers) against
 *    the echo processor: W req/s.
 * 2. One loadgen process (processors/loadgen, started as the agent starts it), closed loop with the same
 *    connections: L req/s, and L / W. Steps 1 and 2 take turns `--rounds` times; the medians are compared.
 * 3. The same process open loop (its real mode): the highest rate whose achieved rate stays within 1 % of
 *    the offered one with no backlog left at the end, found by bisection (`--steps` runs) below 1.1 L: its
 *    sustained open-loop rate, and its ratio to W.
 * 4. Accuracy: open loop at each of `--rates`: achieved vs offered over the run, and the spread of the
 *    requests sent in each second.
 *
 * Beside the rates, each run's CPU per request (wrk's from bash's `times`, the worker's from /proc): on a
 * machine shared with other work it moves far less than the rates do.
 *
 * The bench is the controller: it publishes the workers' control messages on NATS and reads their
 * per-second reports, as the monitor does. Loopback only; every process is stopped at the end.
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { connectBus, type Bus } from "@eas/bus";
import { LatencyCounts, stressControl, stressReports } from "@eas/metrics";
import { startNatsServer } from "@eas/process-kit";
import type { StressWorkerControl, StressWorkerReport } from "@eas/proto";

const run = promisify(execFile);
const repoRoot = new URL("../..", import.meta.url).pathname;

function option(name: string, fallback: string): string {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? process.argv[index + 1]! : fallback;
}
const DURATION_S = Number(option("duration", "8"));
const CONNECTIONS = Number(option("connections", "64"));
const RATES = option("rates", "1000,5000").split(",").map(Number);
const ROUNDS = Number(option("rounds", "3"));
const STEPS = Number(option("steps", "6"));

const children: ChildProcess[] = [];
function startProcessor(name: string, env: Record<string, string>): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(process.execPath, ["--conditions=source", "--import", "tsx", join(repoRoot, "processors", name, "src/main.ts")], {
    env: { PATH: process.env.PATH ?? "", PORT: "0", ...env },
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    let buffered = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      for (const line of buffered.split("\n").slice(0, -1)) {
        const entry = JSON.parse(line.startsWith("{") ? line : "{}") as { msg?: string; port?: number };
        if (entry.msg === "listening" && entry.port) resolve({ child, port: entry.port });
      }
      buffered = buffered.slice(buffered.lastIndexOf("\n") + 1);
    });
    child.once("exit", (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 10 ms). */
function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** wrk's rate and its CPU per request (bash's `times`: the CPU its children used). */
async function wrk(url: string): Promise<{ rate: number; cpuUsPerRequest: number }> {
  const { stdout } = await run("bash", ["-c", `wrk -t1 -c${CONNECTIONS} -d${DURATION_S}s ${url}; times`], {
    timeout: (DURATION_S + 30) * 1000,
  });
  const rate = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)![1]);
  const requests = Number(/(\d+) requests in/.exec(stdout)![1]);
  const [user, system] = stdout
    .trim()
    .split("\n")
    .at(-1)!
    .split(/\s+/)
    .map((t) => {
      const [, minutes, seconds] = /(\d+)m([\d.]+)s/.exec(t)!;
      return Number(minutes) * 60 + Number(seconds);
    });
  return { rate, cpuUsPerRequest: ((user! + system!) * 1e6) / requests };
}

interface Measured {
  offered: number;
  achieved: number;
  sentPerSecond: number[];
  p50Ms: number;
  p99Ms: number;
  backlogEnd: number;
  /** The worker's CPU per answered request, µs. */
  cpuUsPerRequest: number;
}

let phase = 0;
async function measure(bus: Bus, pid: number, url: string, load: { rate: number; closedLoop: boolean }): Promise<Measured> {
  const cpuBefore = cpuSecondsOf(pid);
  const reports: StressWorkerReport[] = [];
  const subscription = bus.subscribe(stressReports.with("bench"), (report) => {
    reports.push(report);
  });
  const fromMs = Math.ceil((Date.now() + 600) / 1000) * 1000;
  const endAtMs = fromMs + DURATION_S * 1000;
  phase++;
  const control: StressWorkerControl = {
    taskId: "bench",
    sentAtMs: Date.now(),
    stop: false,
    endAtMs,
    target: {
      urls: [url],
      method: "POST",
      headers: { "content-type": "application/json" },
      timeoutMs: 10_000,
      dataUrl: "",
      binary: false,
      multiLine: false,
      connections: CONNECTIONS,
    },
    workerIds: ["w1"],
    load: { phase, fromMs, rate: load.rate, closedLoop: load.closedLoop, concurrency: CONNECTIONS },
  };
  const timer = setInterval(() => bus.publish(stressControl.with("bench"), { ...control, sentAtMs: Date.now() }), 300);
  bus.publish(stressControl.with("bench"), control);
  while (Date.now() < endAtMs + 2_500) await new Promise((resolve) => setTimeout(resolve, 200));
  clearInterval(timer);
  subscription.unsubscribe();
  const cpuSeconds = cpuSecondsOf(pid) - cpuBefore;
  // Every answer of the run, the first second's included, over the run's duration: a worker that fell behind
  // and caught up later is not credited twice. The spread of sends is read over whole seconds after the first.
  const seconds = reports.filter((r) => r.startMs >= fromMs + 1000 && r.startMs < endAtMs);
  const latency = new LatencyCounts();
  for (const r of reports) latency.addEncoded(r.latencyHistogramUs);
  const all = (pick: (r: StressWorkerReport) => number) => reports.reduce((total, r) => total + pick(r), 0);
  return {
    offered: all((r) => r.planned) / DURATION_S,
    achieved: all((r) => r.completed) / DURATION_S,
    sentPerSecond: seconds.map((r) => r.sent),
    p50Ms: latency.valueAtPercentile(50) / 1000,
    p99Ms: latency.valueAtPercentile(99) / 1000,
    backlogEnd: seconds.at(-1)?.backlog ?? 0,
    cpuUsPerRequest:
      (cpuSeconds * 1e6) /
      Math.max(
        1,
        all((r) => r.completed),
      ),
  };
}

/** A loadgen process per measurement, so each starts fresh (the worker follows one task and one load). */
async function withWorker<T>(natsUrl: string, body: (bus: Bus, pid: number) => Promise<T>): Promise<T> {
  const worker = await startProcessor("loadgen", {
    EAS_PROCESSOR_CONFIG: JSON.stringify({ task: "bench", nats_url: natsUrl }),
    EAS_INSTANCE_ID: "w1",
  });
  const bus = await connectBus({ servers: natsUrl, name: "bench-controller" });
  try {
    return await body(bus, worker.child.pid!);
  } finally {
    await bus.close();
    worker.child.kill("SIGTERM");
    await new Promise((resolve) => worker.child.once("exit", resolve));
  }
}

const fmt = (n: number) => n.toFixed(0).padStart(7);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

async function main(): Promise<void> {
  console.log(
    `stress worker bench: ${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)}, ${DURATION_S} s per run, ${CONNECTIONS} connections`,
  );
  const nats = await startNatsServer({});
  const echo = await startProcessor("echo", { EAS_PROCESSOR_CONFIG: "{}" });
  const url = `http://127.0.0.1:${echo.port}/predict`;
  try {
    // wrk and the worker take turns, `--rounds` times: on a shared machine the load of the moment moves both.
    const wrkRates: number[] = [];
    const closedRates: number[] = [];
    const wrkCpu: number[] = [];
    const closedCpu: number[] = [];
    let closedP50Ms = 0;
    for (let round = 1; round <= ROUNDS; round++) {
      const w = await wrk(url);
      wrkRates.push(w.rate);
      wrkCpu.push(w.cpuUsPerRequest);
      const closed = await withWorker(nats.url, (bus, pid) => measure(bus, pid, url, { rate: 0, closedLoop: true }));
      closedRates.push(closed.achieved);
      closedCpu.push(closed.cpuUsPerRequest);
      closedP50Ms = closed.p50Ms;
      console.log(
        `round ${round}: wrk -t1 -c${CONNECTIONS} ${fmt(wrkRates.at(-1)!)} req/s, loadgen closed loop ${fmt(closed.achieved)} req/s   x${(closed.achieved / wrkRates.at(-1)!).toFixed(2)}; CPU per request wrk ${w.cpuUsPerRequest.toFixed(1)} µs, loadgen ${closed.cpuUsPerRequest.toFixed(1)} µs`,
      );
    }
    const wrkRate = median(wrkRates);
    const closedRate = median(closedRates);
    console.log(`wrk -t1 -c${CONNECTIONS} (closed loop), median:        ${fmt(wrkRate)} req/s`);
    console.log(
      `loadgen closed loop, ${CONNECTIONS} in flight, median:   ${fmt(closedRate)} req/s   x${(closedRate / wrkRate).toFixed(2)} of wrk   p50 ${closedP50Ms.toFixed(2)} ms`,
    );
    console.log(
      `CPU per request, median: wrk ${median(wrkCpu).toFixed(1)} µs, loadgen ${median(closedCpu).toFixed(1)} µs   x${(median(closedCpu) / median(wrkCpu)).toFixed(2)}`,
    );

    // Bisection between nothing and a little above what the closed loop reached (an open loop cannot hold more
    // than the target answers): `--steps` measurements, each rate rounded to 100 req/s.
    let sustained = 0;
    let above = Math.round((closedRate * 1.1) / 100) * 100;
    for (let step = 0; step < STEPS && above - sustained > 100; step++) {
      const rate = Math.round((sustained + above) / 2 / 100) * 100;
      const open = await withWorker(nats.url, (bus, pid) => measure(bus, pid, url, { rate, closedLoop: false }));
      // Holding a rate: the achieved rate within 1 % of it, and no queue left in the worker at the end. (Latency
      // near the top is the backend's: on one machine the worker and the echo share the cores.)
      const holds = Math.abs(open.achieved - rate) <= 0.01 * rate && open.backlogEnd < rate * 0.01;
      console.log(
        `loadgen open loop at ${fmt(rate)} req/s: achieved ${fmt(open.achieved)}  p50 ${open.p50Ms.toFixed(2)} ms  p99 ${open.p99Ms.toFixed(2)} ms  backlog ${open.backlogEnd}  CPU ${open.cpuUsPerRequest.toFixed(1)} µs/request  ${holds ? "holds" : "falls behind"}`,
      );
      if (holds) sustained = rate;
      else above = rate;
    }
    console.log(`highest sustained open-loop rate: ${fmt(sustained)} req/s   x${(sustained / wrkRate).toFixed(2)} of wrk`);

    for (const rate of RATES) {
      const open = await withWorker(nats.url, (bus, pid) => measure(bus, pid, url, { rate, closedLoop: false }));
      const spread = open.sentPerSecond.length ? `${Math.min(...open.sentPerSecond)}..${Math.max(...open.sentPerSecond)}` : "-";
      console.log(
        `accuracy at ${fmt(rate)} req/s: achieved ${open.achieved.toFixed(1)} (${(((open.achieved - rate) / rate) * 100).toFixed(2)} %), sent per second ${spread}, p50 ${open.p50Ms.toFixed(2)} ms, p99 ${open.p99Ms.toFixed(2)} ms, CPU ${open.cpuUsPerRequest.toFixed(1)} µs/request`,
      );
    }
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await nats.stop();
  }
}

const deadline = setTimeout(() => {
  console.error("bench took too long; stopping");
  for (const child of children) child.kill("SIGKILL");
  process.exit(2);
}, 20 * 60_000);
deadline.unref();
await main();

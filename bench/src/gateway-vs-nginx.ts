/**
 * Gateway vs nginx: throughput and latency of the EAS gateway against nginx
 * as a plain reverse proxy and against the backend reached directly, in one
 * run on one machine, with wrk as the load generator.
 *
 *   node --conditions=source --import tsx bench/src/gateway-vs-nginx.ts \
 *     [--duration 10] [--warmup 2] [--threads 2] [--connections 64] [--rounds 1] \
 *     [--targets direct,gateway,nginx] [--json out.json] [--nginx-access-log] [--gateway-workers 2]
 *
 * `gateway-sampled` is the gateway with the monitor's per-second sampling on (GatewaySampler); with both
 * `gateway` and `gateway-sampled` it prints the sampling on/off ratio (goal >= 0.97).
 *
 * Extra targets: `gateway-cluster` (the gateway as `--gateway-workers`
 * processes sharing the port, default 2: a separate multi-process figure,
 * not the one-process comparison), `proxy-stream`, `proxy-request`, `proxy-dispatch`,
 * `proxy-node-http` (the smallest Node proxies on each API) and `proxy-raw`
 * (a bare-socket upstream, the floor for a Node proxy), see
 * gateway-bench-proxies.ts. Each target gets a warm-up run, then a measured
 * run; with several rounds the targets are interleaved and the median round
 * is reported, so slow drift on a shared machine hits every target alike.
 *
 * Besides wrk's req/s and latency percentiles it reports the CPU time the
 * proxy process spent per request (from /proc), which is much less sensitive
 * to other load on the machine than req/s is.
 *
 * Everything is loopback-only, every process is stopped at the end (also on
 * error or Ctrl-C), and the whole run is bounded by a deadline derived from
 * the durations.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { GatewaySampler } from "@eas/gateway";
import { freePort } from "@eas/testing";

const here = dirname(fileURLToPath(import.meta.url));
const BENCH_TOKEN = "bench-token";
const PROXY_VARIANTS = ["stream", "request", "dispatch", "raw", "node-http"] as const;

interface Options {
  durationS: number;
  warmupS: number;
  threads: number;
  connections: number;
  rounds: number;
  targets: string[];
  json: string | undefined;
  nginxAccessLog: boolean;
  gatewayWorkers: number;
}

function parseOptions(argv: string[]): Options {
  const options: Options = {
    durationS: 10,
    warmupS: 2,
    threads: 2,
    connections: 64,
    rounds: 1,
    targets: ["direct", "gateway", "nginx"],
    json: undefined,
    nginxAccessLog: false,
    gatewayWorkers: 2,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case "--duration":
        options.durationS = positive(flag, value());
        break;
      case "--warmup":
        options.warmupS = Number(value());
        break;
      case "--threads":
        options.threads = positive(flag, value());
        break;
      case "--connections":
        options.connections = positive(flag, value());
        break;
      case "--rounds":
        options.rounds = positive(flag, value());
        break;
      case "--targets":
        options.targets = value().split(",").filter(Boolean);
        break;
      case "--json":
        options.json = value();
        break;
      case "--gateway-workers":
        options.gatewayWorkers = positive(flag, value());
        break;
      case "--nginx-access-log":
        options.nginxAccessLog = true;
        break;
      default:
        throw new Error(`unknown option ${flag}`);
    }
  }
  for (const target of options.targets) {
    const known =
      target === "direct" ||
      target === "gateway" ||
      target === "gateway-sampled" ||
      target === "gateway-cluster" ||
      target === "nginx" ||
      PROXY_VARIANTS.some((v) => target === `proxy-${v}`);
    if (!known) throw new Error(`unknown target ${target}`);
  }
  return options;
}

function positive(flag: string | undefined, raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`${flag} must be a positive number, got ${raw}`);
  return n;
}

/** One wrk run, parsed. */
export interface WrkResult {
  requestsPerSecond: number;
  requests: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  non2xx: number;
  socketErrors: number;
}

/** Parses `wrk --latency` output. */
export function parseWrk(output: string): WrkResult {
  const number = (pattern: RegExp): number => {
    const match = pattern.exec(output);
    if (!match?.[1]) throw new Error(`wrk output lacks ${pattern}:\n${output}`);
    return Number(match[1]);
  };
  const latency = (percent: string): number => {
    const match = new RegExp(`^\\s*${percent}%\\s+([\\d.]+)(us|ms|s)\\s*$`, "m").exec(output);
    if (!match?.[1] || !match[2]) throw new Error(`wrk output lacks the ${percent}% latency:\n${output}`);
    const scale = match[2] === "us" ? 0.001 : match[2] === "ms" ? 1 : 1000;
    return Number(match[1]) * scale;
  };
  const errors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  return {
    requestsPerSecond: number(/Requests\/sec:\s+([\d.]+)/),
    requests: number(/(\d+) requests in/),
    p50Ms: latency("50"),
    p90Ms: latency("90"),
    p99Ms: latency("99"),
    non2xx: /Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1] ? Number(/Non-2xx or 3xx responses: (\d+)/.exec(output)?.[1]) : 0,
    socketErrors: errors ? errors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0,
  };
}

/** Children to stop, newest first, whatever happens. */
const children: ChildProcess[] = [];

function startChild(command: string, args: string[], name: string): ChildProcess {
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
  children.push(child);
  child.stderr?.setEncoding("utf8");
  let stderr = "";
  child.stderr?.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-4_000);
  });
  child.once("exit", (code, sig) => {
    if (!shuttingDown && code !== 0) process.stderr.write(`${name} exited early (code ${code}, signal ${sig}): ${stderr}\n`);
  });
  return child;
}

function startNodeChild(script: string, args: string[], name: string): Promise<{ child: ChildProcess; port: number }> {
  const child = startChild(process.execPath, ["--conditions=source", "--import", "tsx", join(here, script), ...args], name);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not print READY within 20 s`)), 20_000);
    let out = "";
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      out += chunk;
      const match = /READY (\d+)/.exec(out);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve({ child, port: Number(match[1]) });
      }
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready`));
    });
  });
}

function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const socket = connect({ host: "127.0.0.1", port });
      socket.once("connect", () => {
        socket.destroy();
        resolve();
      });
      socket.once("error", () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`nothing listens on ${port} after ${timeoutMs} ms`));
        else setTimeout(attempt, 50);
      });
    };
    attempt();
  });
}

async function startNginx(prefix: string, backendPort: number, accessLog: boolean): Promise<{ child: ChildProcess; port: number }> {
  const port = await freePort();
  const template = readFileSync(join(here, "..", "nginx", "reverse-proxy.conf.template"), "utf8");
  const config = template
    .replaceAll("{{PREFIX}}", prefix)
    .replaceAll("{{PORT}}", String(port))
    .replaceAll("{{BACKEND_PORT}}", String(backendPort))
    .replaceAll("{{ACCESS_LOG}}", accessLog ? `${prefix}/access.log buffer=256k flush=1s` : "off");
  writeFileSync(join(prefix, "nginx.conf"), config);
  const child = startChild(
    "nginx",
    ["-p", prefix, "-c", join(prefix, "nginx.conf"), "-g", "daemon off;", "-e", join(prefix, "error.log")],
    "nginx",
  );
  const exited = new Promise<never>((_, reject) => child.once("exit", (code) => reject(new Error(`nginx exited with ${code}; see above`))));
  await Promise.race([waitForPort(port, 10_000), exited]);
  return { child, port };
}

/** utime + stime of `pid` and its direct children (nginx's worker, cluster workers), in seconds. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  const ticks = 100; // USER_HZ on Linux
  const read = (p: number): { cpu: number; ppid: number } | undefined => {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      return { cpu: (Number(fields[11]) + Number(fields[12])) / ticks, ppid: Number(fields[1]) };
    } catch {
      return undefined;
    }
  };
  let total = read(pid)?.cpu ?? 0;
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = read(Number(entry));
    if (stat && stat.ppid === pid) total += stat.cpu;
  }
  return total;
}

function runWrk(url: string, options: Options, durationS: number): Promise<string> {
  const args = [
    `-t${options.threads}`,
    `-c${options.connections}`,
    `-d${durationS}s`,
    "--latency",
    "--timeout",
    "5s",
    "-H",
    `Authorization: ${BENCH_TOKEN}`,
    url,
  ];
  return new Promise((resolve, reject) => {
    const wrk = spawn("wrk", args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    wrk.stdout.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    wrk.stderr.setEncoding("utf8").on("data", (chunk: string) => (out += chunk));
    const timer = setTimeout(() => wrk.kill("SIGKILL"), (durationS + 15) * 1000);
    wrk.once("error", reject);
    wrk.once("exit", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(out);
      else reject(new Error(`wrk exited with ${code}:\n${out}`));
    });
  });
}

async function checkTarget(name: string, url: string): Promise<void> {
  const response = await fetch(url, { headers: { authorization: BENCH_TOKEN }, signal: AbortSignal.timeout(5_000) });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${name} answered ${response.status}: ${text}`);
}

interface TargetResult extends WrkResult {
  target: string;
  cpuUsPerRequest: number | undefined;
}

let shuttingDown = false;

async function stopChildren(): Promise<void> {
  shuttingDown = true;
  await Promise.all(
    children.reverse().map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) {
            resolve();
            return;
          }
          const kill = setTimeout(() => child.kill("SIGKILL"), 3_000);
          child.once("exit", () => {
            clearTimeout(kill);
            resolve();
          });
          child.stdin?.end();
          child.kill(child.spawnfile === "nginx" ? "SIGQUIT" : "SIGTERM");
        }),
    ),
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function formatTable(results: TargetResult[]): string {
  const header = ["target", "req/s", "p50 ms", "p90 ms", "p99 ms", "CPU us/req", "non-2xx", "sock err"];
  const rows = results.map((r) => [
    r.target,
    r.requestsPerSecond.toFixed(0),
    r.p50Ms.toFixed(2),
    r.p90Ms.toFixed(2),
    r.p99Ms.toFixed(2),
    r.cpuUsPerRequest === undefined ? "-" : r.cpuUsPerRequest.toFixed(1),
    String(r.non2xx),
    String(r.socketErrors),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  const line = (cells: string[]): string =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number))).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** The programs this bench runs, each with the Debian package that has it. */
function missingPrograms(options: Options): string[] {
  const needed: [program: string, pkg: string][] = [["wrk", "wrk"]];
  if (options.targets.includes("nginx")) needed.push(["nginx", "nginx"]);
  const path = (process.env.PATH ?? "").split(":");
  return needed
    .filter(([program]) => !path.some((dir) => dir && existsSync(join(dir, program))))
    .map(([program, pkg]) => `${program} (apt-get install ${pkg})`);
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(2));
  const missing = missingPrograms(options);
  if (missing.length > 0) {
    process.stderr.write(`gateway bench: missing ${missing.join(", ")}\n`);
    process.exit(2);
  }
  const perRun = options.warmupS + options.durationS + 2;
  const budgetS = 60 + options.rounds * options.targets.length * (perRun + 15);
  const deadline = setTimeout(() => {
    process.stderr.write(`benchmark exceeded its ${budgetS} s budget; stopping\n`);
    void stopChildren().finally(() => process.exit(3));
  }, budgetS * 1000);
  deadline.unref();

  const prefix = mkdtempSync(join(tmpdir(), "eas-gw-bench-"));
  try {
    const loadBefore = loadavg();
    const backend = await startNodeChild("gateway-bench-backend.ts", [], "backend");
    const urls = new Map<string, { url: string; pid: number | undefined }>();
    urls.set("direct", { url: `http://127.0.0.1:${backend.port}/`, pid: backend.child.pid });
    if (options.targets.includes("gateway")) {
      const gateway = await startNodeChild("gateway-bench-server.ts", [String(backend.port)], "gateway");
      urls.set("gateway", { url: `http://127.0.0.1:${gateway.port}/api/predict/bench`, pid: gateway.child.pid });
    }
    if (options.targets.includes("gateway-sampled")) {
      const sampled = await startNodeChild("gateway-bench-server.ts", [String(backend.port), "--sampling"], "gateway-sampled");
      urls.set("gateway-sampled", { url: `http://127.0.0.1:${sampled.port}/api/predict/bench`, pid: sampled.child.pid });
    }
    if (options.targets.includes("gateway-cluster")) {
      const cluster = await startNodeChild(
        "gateway-bench-server.ts",
        [String(backend.port), "--workers", String(options.gatewayWorkers)],
        "gateway-cluster",
      );
      urls.set("gateway-cluster", { url: `http://127.0.0.1:${cluster.port}/api/predict/bench`, pid: cluster.child.pid });
    }
    if (options.targets.includes("nginx")) {
      const nginx = await startNginx(prefix, backend.port, options.nginxAccessLog);
      urls.set("nginx", { url: `http://127.0.0.1:${nginx.port}/api/predict/bench`, pid: nginx.child.pid });
    }
    for (const variant of PROXY_VARIANTS) {
      if (!options.targets.includes(`proxy-${variant}`)) continue;
      const proxy = await startNodeChild("gateway-bench-proxies.ts", [variant, String(backend.port)], `proxy-${variant}`);
      urls.set(`proxy-${variant}`, { url: `http://127.0.0.1:${proxy.port}/api/predict/bench`, pid: proxy.child.pid });
    }
    for (const target of options.targets) {
      const entry = urls.get(target);
      if (!entry) throw new Error(`target ${target} was not started`);
      await checkTarget(target, entry.url);
    }

    process.stdout.write(
      `wrk -t${options.threads} -c${options.connections} -d${options.durationS}s --latency (warm-up ${options.warmupS}s), ${options.rounds} round(s); ` +
        `${cpus().length} CPUs, load average before: ${loadBefore.map((l) => l.toFixed(2)).join(" ")}\n`,
    );
    const perTarget = new Map<string, TargetResult[]>();
    for (let round = 1; round <= options.rounds; round++) {
      for (const target of options.targets) {
        const { url, pid } = urls.get(target) as { url: string; pid: number | undefined };
        if (options.warmupS > 0) await runWrk(url, options, options.warmupS);
        // CPU of the proxy process only: for "direct" the backend itself.
        const cpuBefore = cpuSeconds(pid);
        const result = parseWrk(await runWrk(url, options, options.durationS));
        const cpu = cpuSeconds(pid) - cpuBefore;
        const row: TargetResult = { target, ...result, cpuUsPerRequest: result.requests > 0 ? (cpu * 1e6) / result.requests : undefined };
        perTarget.set(target, [...(perTarget.get(target) ?? []), row]);
        process.stdout.write(`round ${round} ${target}: ${row.requestsPerSecond.toFixed(0)} req/s, p99 ${row.p99Ms.toFixed(2)} ms\n`);
      }
    }
    const results = options.targets.map((target) => {
      const rows = perTarget.get(target) as TargetResult[];
      const rps = median(rows.map((r) => r.requestsPerSecond));
      return rows.find((r) => r.requestsPerSecond === rps) as TargetResult;
    });
    const loadAfter = loadavg();
    process.stdout.write(`\n${formatTable(results)}\n\n`);
    const byName = new Map(results.map((r) => [r.target, r]));
    const gateway = byName.get("gateway");
    const ratios: Record<string, number> = {};
    for (const reference of ["nginx", "direct"]) {
      const other = byName.get(reference);
      if (!gateway || !other) continue;
      ratios[`throughput_vs_${reference}`] = gateway.requestsPerSecond / other.requestsPerSecond;
      ratios[`p99_vs_${reference}`] = gateway.p99Ms / other.p99Ms;
      process.stdout.write(
        `gateway / ${reference}: throughput x${ratios[`throughput_vs_${reference}`]?.toFixed(2)}, p99 x${ratios[`p99_vs_${reference}`]?.toFixed(2)}\n`,
      );
    }
    const sampled = byName.get("gateway-sampled");
    if (gateway && sampled) {
      const pairs = (perTarget.get("gateway") ?? []).map(
        (off, i) => (perTarget.get("gateway-sampled")?.[i]?.requestsPerSecond ?? 0) / off.requestsPerSecond,
      );
      ratios["sampling_on_vs_off_throughput_paired_median"] = median(pairs);
      const recordNs = samplerRecordNs();
      ratios["sampler_record_ns"] = recordNs;
      process.stdout.write(
        `sampler record(): ${recordNs.toFixed(0)} ns per request in this process, ${((recordNs / 1000 / (gateway.cpuUsPerRequest ?? Number.NaN)) * 100).toFixed(2)}% of the gateway's CPU per request; ` +
          `paired median of the rounds' on/off throughput x${median(pairs).toFixed(3)}\n`,
      );
      ratios["sampling_on_vs_off_throughput"] = sampled.requestsPerSecond / gateway.requestsPerSecond;
      if (sampled.cpuUsPerRequest !== undefined && gateway.cpuUsPerRequest !== undefined) {
        ratios["sampling_on_vs_off_cpu_per_request"] = sampled.cpuUsPerRequest / gateway.cpuUsPerRequest;
      }
      process.stdout.write(
        `sampling on / off: throughput x${ratios["sampling_on_vs_off_throughput"]?.toFixed(3)}, CPU per request x${ratios["sampling_on_vs_off_cpu_per_request"]?.toFixed(3)} (goal: throughput >= x0.97)\n`,
      );
    }
    process.stdout.write(
      `load average after: ${loadAfter.map((l) => l.toFixed(2)).join(" ")} (wrk, the backend and the proxy share these CPUs; figures from other runs are not comparable)\n`,
    );
    if (options.json) {
      writeFileSync(
        options.json,
        JSON.stringify(
          { options, cpus: cpus().length, loadBefore, loadAfter, results, rounds: Object.fromEntries(perTarget), ratios },
          null,
          2,
        ),
      );
    }
  } finally {
    clearTimeout(deadline);
    await stopChildren();
    rmSync(prefix, { recursive: true, force: true });
  }
}

/** Cost of GatewaySampler.record on the request path: ns per call, over a second's worth of flushes. */
function samplerRecordNs(): number {
  const sampler = new GatewaySampler({ source: "bench", publish: () => undefined, load: () => [], versionOf: () => 1 });
  const calls = 2_000_000;
  for (let i = 0; i < 100_000; i++) sampler.record("bench", "bench-0", 200, 1 + (i % 50), 100, 100);
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) sampler.record("bench", "bench-0", i % 100 === 0 ? 500 : 200, 0.5 + (i % 97) / 10, 100, 100);
  return Number(process.hrtime.bigint() - start) / calls;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  process.once("SIGINT", () => {
    void stopChildren().finally(() => process.exit(130));
  });
  main().then(
    () => process.exit(0),
    async (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      await stopChildren();
      process.exit(1);
    },
  );
}

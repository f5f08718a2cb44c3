/**
 * Monitor load: the monitor's CPU and memory with 1,000 active services each sending a sample every second
 * (plus two instances each sending their CPU and memory), and the delay from a request to its point being
 * queryable. The peer in the same run is the same monitor idle, before the load.
 *
 *   node --conditions=source --import tsx bench/src/monitor-load.ts [--services=1000] [--seconds=90] [--idle-seconds=10]
 *
 * Starts its own nats-server and the monitor as its own process (services/monitor/src/main.ts, default
 * settings: 1-second points in memory for 120 s and on JetStream). This process publishes the samples as
 * gateways and agents do (protobuf on eas.metrics.*), and drives one more service, `probe`, through the real
 * GatewaySampler of the gateway: requests recorded at their wall-clock time, 50 a second spread over the
 * second. The probe's point is queryable once the monitor's WatchLatest stream shows it (the monitor adds a
 * second's points to the memory queries read before it tells watchers); each second is also checked with
 * QuerySeries. Delay of a request = that moment minus the moment the request ended.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { credentials } from "@grpc/grpc-js";
import { connect } from "@nats-io/transport-node";
import { connectJetStreamEventStore } from "@eas/event-store";
import { event, serviceStream, toNewEvent } from "@eas/events";
import { GatewaySampler } from "@eas/gateway";
import { encodeGatewaySample, encodeInstanceSample, gatewaySampleSubject, instanceSampleSubject, TrafficRecorder } from "@eas/metrics";
import { MonitorClient, ServiceSpec, unaryCall, type GatewaySample, type LatestPoint } from "@eas/proto";
import { freePort, mulberry32, startNatsServer, waitFor } from "@eas/testing";

const monitorDir = fileURLToPath(new URL("../../services/monitor/", import.meta.url));

function arg(name: string, fallback: number): number {
  const raw = process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const value = Number(raw ?? fallback);
  if (!Number.isInteger(value) || value < 0) throw new Error(`--${name} must be a non-negative integer`);
  return value;
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

/** CPU seconds (user + system) and resident memory of a process, from /proc. */
function processUsage(pid: number): { cpuSeconds: number; rssBytes: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  return { cpuSeconds: (Number(fields[11]) + Number(fields[12])) / 100, rssBytes: rssKb * 1024 };
}

/** What a service of the load sends each second: 20 requests over two instances of one version. */
function trafficTemplate(seed: number): Pick<GatewaySample, "total" | "versions" | "instances"> & { ids: [string, string] } {
  const random = mulberry32(seed);
  const total = new TrafficRecorder();
  const version = new TrafficRecorder();
  const a = new TrafficRecorder();
  const b = new TrafficRecorder();
  for (let i = 0; i < 20; i++) {
    const latencyUs = 2_000 + random() * 30_000;
    const code = random() < 0.01 ? 500 : 200;
    for (const recorder of [total, version, i % 2 === 0 ? a : b]) recorder.record(code, latencyUs, 200, 500);
  }
  const ids: [string, string] = [`s${seed}-a`, `s${seed}-b`];
  return {
    ids,
    total: total.flush(),
    versions: { 1: version.flush() },
    instances: { [ids[0]]: { version: 1, traffic: a.flush(), inFlight: 1 }, [ids[1]]: { version: 1, traffic: b.flush(), inFlight: 0 } },
  };
}

async function main(): Promise<void> {
  const serviceCount = arg("services", 1000);
  const seconds = arg("seconds", 90);
  const idleSeconds = arg("idle-seconds", 10);
  const nats = await startNatsServer();
  const nc = await connect({ servers: nats.url });
  let monitor: ChildProcess | undefined;
  try {
    const store = await connectJetStreamEventStore({ nc });
    await store.append(
      serviceStream("probe"),
      [
        toNewEvent(
          event("ServiceCreated", {
            name: "probe",
            spec: ServiceSpec.fromPartial({ name: "probe" }),
            version: 1,
            token: "",
            tokenSha256: "",
            createdAt: new Date().toISOString(),
          }),
          randomUUID(),
        ),
      ],
      { expectedRevision: "no_stream" },
    );
    const grpcPort = await freePort();
    const httpPort = await freePort();
    // EAS_BENCH_MONITOR_NODE_ARGS: extra node flags for the monitor, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
    const extraArgs = (process.env.EAS_BENCH_MONITOR_NODE_ARGS ?? "").split(" ").filter(Boolean);
    monitor = spawn(process.execPath, [...extraArgs, "--conditions=source", "--import", "tsx", "src/main.ts"], {
      cwd: monitorDir,
      env: { ...process.env, NATS_URL: nats.url, EAS_GRPC_PORT: String(grpcPort), EAS_HTTP_PORT: String(httpPort), EAS_LOG_LEVEL: "warn" },
      stdio: ["ignore", "inherit", "inherit"],
    });
    const pid = monitor.pid!;
    await waitFor(
      "the monitor to be ready",
      async () => (await fetch(`http://127.0.0.1:${httpPort}/readyz`).catch(() => undefined))?.ok === true,
      {
        timeoutMs: 60_000,
        intervalMs: 200,
      },
    );
    const client = new MonitorClient(`127.0.0.1:${grpcPort}`, credentials.createInsecure());

    // Peer: the same monitor, idle.
    const idleStart = processUsage(pid);
    await new Promise((resolve) => setTimeout(resolve, idleSeconds * 1000));
    const idleEnd = processUsage(pid);
    const idleCpu = (idleEnd.cpuSeconds - idleStart.cpuSeconds) / idleSeconds;

    const templates = Array.from({ length: serviceCount }, (_, i) => trafficTemplate(i + 1));
    const publishSecond = (startMs: number) => {
      for (let i = 0; i < serviceCount; i++) {
        const service = `svc_${i}`;
        const template = templates[i]!;
        const { ids, ...traffic } = template;
        nc.publish(
          gatewaySampleSubject(service),
          encodeGatewaySample({ service, source: "bench", startMs, durationMs: 1000, ...traffic, inFlight: 1, queued: 0 }),
        );
        for (const id of ids) {
          nc.publish(
            instanceSampleSubject(service, id),
            encodeInstanceSample({
              service,
              instanceId: id,
              version: 1,
              nodeId: "n1",
              atMs: startMs + 500,
              cpuPercent: 20,
              memoryBytes: 200e6,
            }),
          );
        }
      }
    };

    // The probe: requests through the gateway's sampler at known times; the delay ends when the point shows.
    const requestEnds = new Map<number, number[]>();
    const sampler = new GatewaySampler({
      source: "probe-gateway",
      publish: (sample) => nc.publish(gatewaySampleSubject(sample.service), encodeGatewaySample(sample)),
      load: () => [],
      versionOf: () => 1,
    });
    sampler.start();
    const delays: number[] = [];
    const checked = { seconds: 0, mismatched: 0 };
    const watch = client.watchLatest({ service: "probe" });
    watch.on("data", (point: LatestPoint) => {
      const shownAt = Date.now();
      const ends = requestEnds.get(point.timeMs);
      if (!ends) return;
      requestEnds.delete(point.timeMs);
      for (const end of ends) delays.push(shownAt - end);
      void unaryCall(client, client.querySeries, {
        service: "probe",
        metrics: ["qps"],
        fromMs: point.timeMs,
        toMs: point.timeMs + 1000,
        stepSeconds: 1,
        version: 0,
        instanceId: "",
        breakdown: "",
      }).then((answer) => {
        checked.seconds++;
        if (answer.series[0]?.points[0]?.value !== ends.length) checked.mismatched++;
      });
    });
    watch.on("error", () => undefined);
    const probeTimer = setInterval(() => {
      const end = Date.now();
      sampler.record("probe", "probe-a", 200, 5, 100, 100);
      const second = Math.floor(end / 1000) * 1000;
      requestEnds.set(second, [...(requestEnds.get(second) ?? []), end]);
    }, 20);

    const loadStart = processUsage(pid);
    const rss: number[] = [];
    const began = Date.now();
    let published = 0;
    while (Date.now() - began < seconds * 1000) {
      const next = Math.floor(Date.now() / 1000) * 1000 + 1000;
      await new Promise((resolve) => setTimeout(resolve, next + 20 - Date.now()));
      publishSecond(next - 1000);
      published++;
      rss.push(processUsage(pid).rssBytes);
    }
    const loadEnd = processUsage(pid);
    clearInterval(probeTimer);
    sampler.stop();
    watch.cancel();
    const debug = (await (await fetch(`http://127.0.0.1:${httpPort}/debug/series`)).json()) as { recentBytes: number; services: number };
    const samplesMetric = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
    client.close();

    const loadCpu = (loadEnd.cpuSeconds - loadStart.cpuSeconds) / seconds;
    const sortedDelays = delays.sort((a, b) => a - b);
    const recentWindowS = 120;
    const keptS = Math.min(seconds, recentWindowS);
    const accepted = /eas_monitor_samples_total\{kind="gateway",outcome="accepted"[^}]*\} (\d+)/.exec(samplesMetric)?.[1];
    const late = /eas_monitor_samples_total\{kind="gateway",outcome="late"[^}]*\} (\d+)/.exec(samplesMetric)?.[1] ?? "0";
    const mib = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
    process.stdout.write(
      [
        `monitor load: ${serviceCount} services x 1 gateway sample/s + ${2 * serviceCount} instance samples/s for ${seconds} s (${published} seconds published); ${cpus().length} CPUs, load average ${loadavg()
          .map((l) => l.toFixed(2))
          .join(" ")}`,
        `  gateway samples accepted ${accepted ?? "?"}, late ${late}`,
        `  monitor CPU: ${(loadCpu * 100).toFixed(1)}% of one core under load, ${(idleCpu * 100).toFixed(1)}% idle (x${(loadCpu / Math.max(idleCpu, 0.001)).toFixed(1)})`,
        `  monitor memory: RSS ${mib(idleEnd.rssBytes)} MiB idle, ${mib(rss.at(-1) ?? 0)} MiB at the end, ${mib(Math.max(...rss))} MiB max (x${((rss.at(-1) ?? 0) / idleEnd.rssBytes).toFixed(2)} of idle)`,
        `  1-second points in memory: ${mib(debug.recentBytes)} MiB for ${keptS} s of ${debug.services} services; ${mib((debug.recentBytes / keptS) * recentWindowS)} MiB projected for the full ${recentWindowS} s window`,
        `  request -> queryable: p50 ${percentile(sortedDelays, 50)} ms, p99 ${percentile(sortedDelays, 99)} ms, max ${sortedDelays.at(-1)} ms over ${sortedDelays.length} probe requests; QuerySeries agreed on ${checked.seconds - checked.mismatched}/${checked.seconds} seconds`,
      ].join("\n") + "\n",
    );
  } finally {
    monitor?.kill("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 500));
    await nc.close();
    await nats.stop();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);

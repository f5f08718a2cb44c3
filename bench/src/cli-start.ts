/**
 * CLI start-up: wall-clock time of `./eas --help` and `./eas desc <service>` (end to end, against a running
 * deployer), next to a bare `node -e ''` start measured in the same run, and the CLI run from its TypeScript
 * sources through tsx (what `eas` did before it ran the build) and `pnpm eas desc` (pnpm's own start-up on
 * top) as further peers.
 *
 *   node --conditions=source --import tsx bench/src/cli-start.ts [runs=20]
 *
 * Needs `pnpm build` first (the bench refuses to time the fallback by mistake). Starts the local cluster
 * without agents in a temporary folder on free ports, creates one service (no instance needs to run for
 * `desc`), then runs every command in turn `runs` times, interleaved so load on the machine hits all alike.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { credentials } from "@grpc/grpc-js";
import { startLocalCluster } from "@eas/infra";
import { ServiceManagerClient, unaryCall } from "@eas/proto";
import { waitFor } from "@eas/testing";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const runs = Number(process.argv.slice(2).find((arg) => /^\d+$/.test(arg)) ?? 20);

interface Case {
  name: string;
  argv: string[];
  env?: Record<string, string>;
}

function timeOnce(c: Case): number {
  const start = performance.now();
  const result = spawnSync(c.argv[0]!, c.argv.slice(1), { cwd: repoRoot, env: { ...process.env, ...c.env }, encoding: "utf8" });
  const ms = performance.now() - start;
  if (result.status !== 0) throw new Error(`${c.name} exited with ${result.status}: ${result.stderr}`);
  if (result.stderr.includes("running the TypeScript sources") && !c.env?.EAS_CLI_FROM_SOURCE) {
    throw new Error(`${c.name} ran the sources, not the build: run \`pnpm build\` first\n${result.stderr}`);
  }
  return ms;
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

const dataDir = mkdtempSync(join(tmpdir(), "eas-bench-cli-"));
const cluster = await startLocalCluster({ dataDir, randomPorts: true, agents: [], onLog: () => undefined, logLevel: "warn" });
try {
  const deployer = cluster.services.get("deployer")!;
  await waitFor(
    "the deployer to be ready",
    () =>
      fetch(`http://127.0.0.1:${deployer.httpPort}/readyz`).then(
        (r) => r.ok,
        () => false,
      ),
    {
      timeoutMs: 60_000,
    },
  );
  const client = new ServiceManagerClient(cluster.deployerAddress, credentials.createInsecure());
  await unaryCall(client, client.createService, {
    spec: JSON.stringify({ name: "bench_cli", metadata: { instance: 1, cpu: 0.5, memory: 256 }, processor: "echo" }),
  });
  client.close();

  const eas = join(repoRoot, "eas");
  const endpoint = ["--endpoint", cluster.deployerAddress];
  const cases: Case[] = [
    { name: "node -e ''", argv: [process.execPath, "-e", ""] },
    { name: "./eas --help", argv: [eas, "--help"] },
    { name: "./eas desc", argv: [eas, ...endpoint, "desc", "bench_cli"] },
    { name: "eas desc from sources (tsx)", argv: [eas, ...endpoint, "desc", "bench_cli"], env: { EAS_CLI_FROM_SOURCE: "1" } },
  ];
  // The way the README used to call it: pnpm's own start-up on top of the CLI's.
  if (spawnSync("pnpm", ["--version"]).status === 0) {
    cases.push({ name: "pnpm eas desc", argv: ["pnpm", "--silent", "eas", ...endpoint, "desc", "bench_cli"] });
  } else console.log("pnpm not on PATH: the `pnpm eas desc` peer is left out");
  for (const c of cases) timeOnce(c); // warm the file cache and tsx's cache
  const samples = new Map(cases.map((c) => [c.name, [] as number[]]));
  for (let i = 0; i < runs; i++) for (const c of cases) samples.get(c.name)!.push(timeOnce(c));

  const baseline = [...samples.get(cases[0]!.name)!].sort((a, b) => a - b);
  console.log(`CLI start-up, ${runs} runs each, ${cpus().length} cores, load average ${loadavg()[0]!.toFixed(1)}`);
  console.log("| command | p50 ms | p90 ms | max ms | p50 vs node -e |");
  console.log("| --- | --- | --- | --- | --- |");
  for (const c of cases) {
    const sorted = [...samples.get(c.name)!].sort((a, b) => a - b);
    const ratio = percentile(sorted, 50) / percentile(baseline, 50);
    console.log(
      `| ${c.name} | ${percentile(sorted, 50).toFixed(0)} | ${percentile(sorted, 90).toFixed(0)} | ${sorted.at(-1)!.toFixed(0)} | ×${ratio.toFixed(1)} |`,
    );
  }
} finally {
  await cluster.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

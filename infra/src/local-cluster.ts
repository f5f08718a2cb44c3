import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, killRecordedGroup, readPidRecord, startNatsServer, type NatsServerHandle } from "@eas/process-kit";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** The control-plane services, in start order. */
export const CONTROL_PLANE = ["scheduler", "deployer", "gateway", "autoscaler", "async-queue", "monitor", "billing"] as const;
export type ControlPlaneService = (typeof CONTROL_PLANE)[number];

export interface AgentOptions {
  nodeId: string;
  cpuMillis?: number;
  memoryMib?: number;
  resourceGroup?: string;
  spot?: boolean;
  pricePerHour?: number;
  /** Cloud instance type (EAS_NODE_INSTANCE_TYPE). */
  instanceType?: string;
  /** Not started with the cluster: `restart(name)` starts it later (a node that joins). */
  startLater?: boolean;
  /** Environment of this agent only, e.g. a shorter reclaim notice for SIGUSR2. */
  env?: Record<string, string>;
}

export interface LocalClusterOptions {
  /** Folder for NATS JetStream data and service state; kept across restarts. */
  dataDir: string;
  /** Use a NATS server here if one answers; otherwise spawn nats-server on its port. */
  natsUrl?: string;
  /** Pick free ports for everything instead of the defaults (tests). */
  randomPorts?: boolean;
  agents?: AgentOptions[];
  /** Where service output goes; default: stdout with a "[name]" prefix. */
  onLog?: (service: string, line: string) => void;
  logLevel?: string;
  extraEnv?: Record<string, string>;
  /** Rates file the agents register their prices from (docs/billing.md); default `infra/rates.json`. */
  ratesFile?: string;
}

export interface ServiceProcess {
  readonly name: string;
  readonly grpcPort: number;
  readonly httpPort: number;
  readonly env: Record<string, string>;
  readonly child: ChildProcess | undefined;
}

export interface LocalCluster {
  readonly natsUrl: string;
  readonly gatewayUrl: string;
  readonly deployerAddress: string;
  readonly schedulerAddress: string;
  readonly services: ReadonlyMap<string, ServiceProcess>;
  /** Sends a signal to one service's process and waits for it to exit (nothing for one not running). */
  kill(name: string, signal?: NodeJS.Signals): Promise<void>;
  /** Starts a stopped (or not yet started) service again with the same ports and environment. */
  restart(name: string): Promise<void>;
  /** Whether the service's process runs now. */
  isRunning(name: string): boolean;
  /** Stops every service (SIGTERM, then SIGKILL after a grace period), then a NATS server it spawned. */
  stop(): Promise<void>;
}

const DEFAULT_PORTS: Record<ControlPlaneService, { grpc: number; http: number }> = {
  deployer: { grpc: 50051, http: 9101 },
  scheduler: { grpc: 50052, http: 9102 },
  autoscaler: { grpc: 50053, http: 9103 },
  "async-queue": { grpc: 50054, http: 9104 },
  monitor: { grpc: 50055, http: 9105 },
  billing: { grpc: 50056, http: 9106 },
  gateway: { grpc: 0, http: 9100 },
};

async function answers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url.replace(/^nats:/, "http:"));
  return await new Promise((resolvePromise) => {
    const socket = netConnect({ host: hostname, port: Number(port || 4222) });
    const done = (ok: boolean) => {
      socket.destroy();
      resolvePromise(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * Kills instance processes an agent left behind (an agent killed with SIGKILL cannot stop them);
 * agents record each instance's process group in `agents/<node>/instances/<id>/pid.json`.
 */
export function reapInstanceProcesses(dataDir: string): number {
  let reaped = 0;
  const agentsDir = join(dataDir, "agents");
  if (!existsSync(agentsDir)) return 0;
  for (const node of readdirSync(agentsDir)) {
    const instancesDir = join(agentsDir, node, "instances");
    if (!existsSync(instancesDir)) continue;
    for (const instance of readdirSync(instancesDir)) {
      const record = readPidRecord(join(instancesDir, instance));
      // pid.json stays: the node's agent reads it at its next start and reports the instance Failed, so
      // the deployer replaces it instead of counting a dead instance as Ready.
      if (record && killRecordedGroup(record) === "killed") reaped++;
    }
  }
  return reaped;
}

/** Starts NATS (unless one answers), every control-plane service and the agents, each its own process. */
export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const dataDir = resolve(options.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const log = options.onLog ?? ((service: string, line: string) => process.stdout.write(`[${service}] ${line}\n`));

  let natsUrl = options.natsUrl ?? "nats://127.0.0.1:4222";
  let nats: NatsServerHandle | undefined;
  if (options.randomPorts || !(await answers(natsUrl))) {
    const port = options.randomPorts ? await freePort() : Number(new URL(natsUrl.replace(/^nats:/, "http:")).port || 4222);
    // Own process group, like the services: Ctrl-C reaches only the launcher, which stops NATS last.
    nats = await startNatsServer({ storeDir: join(dataDir, "nats"), port, onLog: (line) => log("nats", line), ownProcessGroup: true });
    natsUrl = nats.url;
  }

  const ports = async (service: ControlPlaneService) =>
    options.randomPorts ? { grpc: service === "gateway" ? 0 : await freePort(), http: await freePort() } : DEFAULT_PORTS[service];
  const portOf: Partial<Record<ControlPlaneService, { grpc: number; http: number }>> = {};
  for (const service of CONTROL_PLANE) portOf[service] = await ports(service);
  const gatewayPort = options.randomPorts ? await freePort() : 8080;
  const schedulerAddress = `127.0.0.1:${portOf.scheduler!.grpc}`;
  const deployerAddress = `127.0.0.1:${portOf.deployer!.grpc}`;
  const gatewayUrl = `http://127.0.0.1:${gatewayPort}`;

  const common: Record<string, string> = {
    NATS_URL: natsUrl,
    EAS_DATA_DIR: dataDir,
    EAS_LOG_LEVEL: options.logLevel ?? process.env.EAS_LOG_LEVEL ?? "info",
    EAS_SCHEDULER_ADDR: schedulerAddress,
    EAS_MONITOR_ADDR: `127.0.0.1:${portOf.monitor!.grpc}`,
    EAS_DEPLOYER_ADDR: deployerAddress,
    EAS_GATEWAY_URL: gatewayUrl,
    ...options.extraEnv,
  };

  const processes = new Map<string, ServiceProcess & { child: ChildProcess | undefined; exited?: Promise<void> }>();

  const launch = (name: string) => {
    const entry = processes.get(name)!;
    const program = name.startsWith("agent") ? "agent" : name;
    const child = spawn(
      process.execPath,
      ["--conditions=source", "--import", "tsx", "--import", "@eas/telemetry/register", join(repoRoot, "services", program, "src/main.ts")],
      {
        cwd: join(repoRoot, "services", program),
        env: { ...process.env, ...entry.env },
        stdio: ["ignore", "pipe", "pipe"],
        // Own process group: a terminal's Ctrl-C reaches only the launcher, which then stops
        // every service in order (a second signal would make a service skip its graceful shutdown).
        detached: true,
      },
    );
    const pipe = (stream: NodeJS.ReadableStream | null) => {
      let buffered = "";
      stream?.on("data", (chunk: Buffer) => {
        buffered += chunk.toString();
        let newline: number;
        while ((newline = buffered.indexOf("\n")) >= 0) {
          log(name, buffered.slice(0, newline));
          buffered = buffered.slice(newline + 1);
        }
      });
    };
    pipe(child.stdout);
    pipe(child.stderr);
    entry.child = child;
    entry.exited = new Promise<void>((resolveExit) => child.once("exit", () => resolveExit()));
  };

  for (const service of CONTROL_PLANE) {
    const { grpc, http } = portOf[service]!;
    const env: Record<string, string> = { ...common, EAS_GRPC_PORT: String(grpc), EAS_HTTP_PORT: String(http) };
    if (service === "gateway") env.EAS_GATEWAY_PORT = String(gatewayPort);
    processes.set(service, { name: service, grpcPort: grpc, httpPort: http, env, child: undefined });
  }
  for (const agent of options.agents ?? []) {
    const name = `agent-${agent.nodeId}`;
    const http = await freePort();
    const env: Record<string, string> = {
      ...common,
      EAS_GRPC_PORT: "0",
      EAS_HTTP_PORT: String(http),
      EAS_NODE_ID: agent.nodeId,
      EAS_NODE_CPU_MILLIS: String(agent.cpuMillis ?? 4000),
      EAS_NODE_MEMORY_MIB: String(agent.memoryMib ?? 8192),
      EAS_RESOURCE_GROUP: agent.resourceGroup ?? "",
      EAS_NODE_SPOT: String(agent.spot ?? false),
      EAS_NODE_PRICE_PER_HOUR: String(agent.pricePerHour ?? 0),
      EAS_RATES_FILE: options.ratesFile ?? join(repoRoot, "infra", "rates.json"),
      EAS_NODE_INSTANCE_TYPE: agent.instanceType ?? "",
      ...agent.env,
    };
    processes.set(name, { name, grpcPort: 0, httpPort: http, env, child: undefined });
  }
  const later = new Set((options.agents ?? []).filter((agent) => agent.startLater).map((agent) => `agent-${agent.nodeId}`));
  for (const name of processes.keys()) if (!later.has(name)) launch(name);

  const isRunning = (name: string) => {
    const child = processes.get(name)?.child;
    return child !== undefined && child.exitCode === null && child.signalCode === null;
  };

  const kill = async (name: string, signal: NodeJS.Signals = "SIGTERM") => {
    const entry = processes.get(name);
    if (!entry) throw new Error(`no service ${name}`);
    if (entry.child && entry.child.exitCode === null && entry.child.signalCode === null) {
      entry.child.kill(signal);
      // Agents stop their instances first (10 s grace each, in parallel), so give them longer.
      const timer = setTimeout(() => entry.child?.kill("SIGKILL"), name.startsWith("agent") ? 25_000 : 10_000);
      await entry.exited;
      clearTimeout(timer);
    }
  };

  return {
    natsUrl,
    gatewayUrl,
    deployerAddress,
    schedulerAddress,
    services: processes,
    kill,
    isRunning,
    async restart(name) {
      const entry = processes.get(name);
      if (!entry) throw new Error(`no service ${name}`);
      if (isRunning(name)) await kill(name);
      launch(name);
    },
    async stop() {
      // The deployer first, so its reconciler does not replace the instances the agents stop next;
      // then the agents (their instances stop while the control plane still records it); then the rest.
      const names = [...processes.keys()];
      await kill("deployer");
      await Promise.all(names.filter((n) => n.startsWith("agent")).map((n) => kill(n)));
      await Promise.all(names.filter((n) => !n.startsWith("agent") && n !== "deployer").map((n) => kill(n)));
      reapInstanceProcesses(dataDir);
      await nats?.stop();
    },
  };
}

import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { credentials } from "@grpc/grpc-js";
import { startLocalCluster, type AgentOptions, type LocalCluster } from "@eas/infra";
import { ServiceManagerClient, type EventRecord } from "@eas/proto";
import { waitFor } from "@eas/testing";

export interface TestCluster {
  cluster: LocalCluster;
  client: ServiceManagerClient;
  logs: string[];
  dataDir: string;
  readyz(service: string): Promise<number>;
  projections(service: string): Promise<Record<string, { position: number; caughtUp: boolean; state?: unknown }>>;
  waitAllReady(timeoutMs?: number): Promise<void>;
  /** Listener-leak warnings (`MaxListenersExceededWarning`) any process printed, kept apart from the rolling logs. */
  leakWarnings: string[];
  /** Stops every process and removes the data folder; throws if a process warned of a listener leak. */
  stop(): Promise<void>;
  /** Stops every process and keeps the data folder, for a cluster started again over it. */
  stopKeepingData(): Promise<void>;
}

/**
 * Starts the whole local cluster on free ports in a temporary data folder and waits until every
 * process answers /readyz; on failure it prints the last log lines, stops everything and throws.
 */
export async function startTestCluster(
  agents: AgentOptions[] = [],
  readyTimeoutMs = 90_000,
  dataDir = mkdtempSync(join(tmpdir(), "eas-e2e-")),
  /** Environment every process gets besides the cluster's own, e.g. OTEL_EXPORTER_OTLP_ENDPOINT. */
  extraEnv: Record<string, string> = {},
): Promise<TestCluster> {
  const logs: string[] = [];
  const leakWarnings: string[] = [];
  const cluster = await startLocalCluster({
    dataDir,
    randomPorts: true,
    agents,
    logLevel: "info",
    extraEnv,
    onLog: (service, line) => {
      logs.push(`[${service}] ${line}`);
      if (logs.length > 5000) logs.shift();
      if (line.includes("MaxListenersExceededWarning")) leakWarnings.push(`[${service}] ${line}`);
    },
  });
  const client = new ServiceManagerClient(cluster.deployerAddress, credentials.createInsecure());
  const httpPort = (service: string) => {
    const entry = cluster.services.get(service);
    if (!entry) throw new Error(`no service ${service}`);
    return entry.httpPort;
  };
  const readyz = (service: string) =>
    fetch(`http://127.0.0.1:${httpPort(service)}/readyz`).then(
      (r) => r.status,
      () => 0,
    );
  const harness: TestCluster = {
    cluster,
    client,
    logs,
    leakWarnings,
    dataDir,
    readyz,
    async projections(service) {
      const response = await fetch(`http://127.0.0.1:${httpPort(service)}/debug/projections`);
      return (await response.json()) as Record<string, { position: number; caughtUp: boolean; state?: unknown }>;
    },
    async waitAllReady(timeoutMs = 60_000) {
      for (const name of cluster.services.keys()) {
        // An agent started later (a node that joins) is waited for when it starts.
        if (!cluster.isRunning(name)) continue;
        await waitFor(`${name} /readyz`, async () => (await readyz(name)) === 200, { timeoutMs, intervalMs: 200 });
      }
    },
    async stop() {
      await harness.stopKeepingData();
      rmSync(dataDir, { recursive: true, force: true });
      // Every e2e file ends here: a listener leak in any process fails the file that provoked it.
      if (leakWarnings.length > 0) throw new Error(`listener leak warnings in the cluster's logs:\n${leakWarnings.join("\n")}`);
    },
    async stopKeepingData() {
      client.close();
      await cluster.stop();
    },
  };
  try {
    await harness.waitAllReady(readyTimeoutMs);
  } catch (error) {
    console.error(logs.slice(-80).join("\n"));
    await harness.stop();
    throw error;
  }
  return harness;
}

export { unaryCall } from "@eas/proto";

/** Every event after `fromPosition` up to the log's head. */
export async function readEvents(client: ServiceManagerClient, fromPosition = 0, typePrefix = ""): Promise<EventRecord[]> {
  const stream = client.watchEvents({ fromPosition, typePrefix, follow: false });
  const records: EventRecord[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on("data", (record: EventRecord) => records.push(record));
    stream.on("error", reject);
    stream.on("end", resolve);
  });
  return records;
}

export interface SteadyLoad {
  /** Requests answered 200 so far. */
  readonly ok: number;
  /** Stops the workers; every answer but a 200, and every network error, is a failure. */
  stop(): Promise<{ ok: number; failures: string[] }>;
}

/** Sends requests through the gateway with a few workers until stopped. */
export function steadyLoad(t: TestCluster, info: { name: string; token: string }, body: unknown, workers = 4): SteadyLoad {
  let running = true;
  const failures: string[] = [];
  let ok = 0;
  const worker = async () => {
    while (running) {
      try {
        const response = await fetch(`${t.cluster.gatewayUrl}/api/predict/${info.name}`, {
          method: "POST",
          headers: { Authorization: info.token, "Content-Type": "application/json" },
          body: JSON.stringify(body),
        });
        const text = await response.text();
        if (response.status === 200) ok++;
        else failures.push(`${response.status} ${text}`);
      } catch (error) {
        failures.push(String(error));
      }
    }
  };
  const loops = Array.from({ length: workers }, () => worker());
  return {
    get ok() {
      return ok;
    },
    async stop() {
      running = false;
      await Promise.all(loops);
      return { ok, failures };
    },
  };
}

export interface PacedAnswer {
  sentAt: number;
  endedAt: number;
  status: number;
}

export interface PacedLoad {
  readonly answers: readonly PacedAnswer[];
  /** Requests sent so far. */
  readonly sent: number;
  /** Sends the next requests to this sub path of the service (e.g. "healthz"), with `method` (GET: no body). */
  setPath(subPath: string, method?: "GET" | "POST"): void;
  /** Stops sending and waits for the requests in flight. */
  stop(): Promise<PacedAnswer[]>;
}

/**
 * Open-loop load: sends `ratePerSecond` requests a second through the gateway on a fixed schedule,
 * whatever the answers (a slow service does not slow the sender down, as real clients do not).
 */
export function pacedLoad(t: TestCluster, info: { name: string; token: string }, ratePerSecond: number, body: unknown = {}): PacedLoad {
  const answers: PacedAnswer[] = [];
  const inFlight = new Set<Promise<void>>();
  const startedAt = Date.now();
  let sent = 0;
  let url = `${t.cluster.gatewayUrl}/api/predict/${info.name}`;
  let method: "GET" | "POST" = "POST";
  const payload = JSON.stringify(body);
  const send = () => {
    const sentAt = Date.now();
    const request = fetch(url, {
      method,
      headers: { Authorization: info.token, "Content-Type": "application/json" },
      ...(method === "POST" ? { body: payload } : {}),
    })
      .then(async (response) => {
        await response.arrayBuffer();
        answers.push({ sentAt, endedAt: Date.now(), status: response.status });
      })
      .catch(() => {
        answers.push({ sentAt, endedAt: Date.now(), status: 0 });
      });
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  };
  const timer = setInterval(() => {
    const due = Math.floor(((Date.now() - startedAt) * ratePerSecond) / 1000);
    while (sent < due) {
      sent++;
      send();
    }
  }, 5);
  return {
    answers,
    get sent() {
      return sent;
    },
    setPath(subPath, nextMethod = "POST") {
      url = `${t.cluster.gatewayUrl}/api/predict/${info.name}/${subPath}`;
      method = nextMethod;
    },
    async stop() {
      clearInterval(timer);
      await Promise.all([...inFlight]);
      return answers;
    },
  };
}

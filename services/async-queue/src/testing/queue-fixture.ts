import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { Kvm } from "@nats-io/kv";
import { headers as natsHeaders } from "@nats-io/transport-node";
import { connectBus, type Bus } from "@eas/bus";
import { AsyncRequestHeader, asyncQueueLayout, decodeAsyncResult, isOutcome } from "@eas/contracts";
import { absentInstance, InstancePhase } from "@eas/instance-lifecycle";
import type { AsyncConfig, AsyncResult } from "@eas/proto";
import { createLogger, type Logger } from "@eas/telemetry";
import { startNatsServer, waitFor, type NatsServerHandle } from "@eas/testing";
import type { AsyncServicesState } from "../projections/async-services.js";
import { QueueDispatchers } from "../queues/dispatchers.js";
import type { DispatcherSettings } from "../queues/service-dispatcher.js";
import { QueueTopology } from "../queues/topology.js";

/** The queue settings tests start from. */
export const TEST_QUEUE: AsyncConfig = {
  maxLength: 1_000,
  maxPayloadBytes: 64 * 1024,
  maxAttempts: 3,
  requestTimeoutMs: 10_000,
  resultRetentionSeconds: 3_600,
};

/** A nats-server with the async-queue's topology, and what tests use to drive queues as the gateway would. */
export interface QueueFixture {
  readonly nats: NatsServerHandle;
  readonly bus: Bus;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
  readonly kvm: Kvm;
  readonly topology: QueueTopology;
  readonly logger: Logger;
  /** Settings for dispatchers, fast back-off included. */
  dispatcherSettings(overrides?: Partial<DispatcherSettings>): DispatcherSettings;
  /** Dispatchers over `state` (each test keeps its own), stopped at close. */
  dispatchers(state: () => AsyncServicesState, overrides?: Partial<DispatcherSettings>): QueueDispatchers;
  /** Queues a request the way the gateway does; returns its id. */
  submit(service: string, body: string, options?: { priority?: boolean; callbackUrl?: string; path?: string }): Promise<string>;
  /** The request's outcome once stored. */
  outcome(service: string, requestId: string, timeoutMs?: number): Promise<AsyncResult>;
  /** Requests still in the service's queue. */
  queued(service: string): Promise<number>;
  close(): Promise<void>;
}

export async function startQueueFixture(options: { ackWaitMs?: number } = {}): Promise<QueueFixture> {
  const nats = await startNatsServer();
  const bus = await connectBus({ servers: nats.url, name: "async-queue-test", connectionOptions: { noAsyncTraces: true } });
  const js = bus.jetstream();
  const jsm = await bus.jetstreamManager();
  const kvm = bus.keyValue();
  const ackWaitMs = options.ackWaitMs ?? 5_000;
  const topology = new QueueTopology(jsm, kvm, { ackWaitMs, deadLetterRetentionMs: 3_600_000, replicas: 1 });
  await topology.ensureShared();
  const logger = createLogger({ name: "async-queue-test", level: "warn" });
  const started: QueueDispatchers[] = [];
  const dispatcherSettings = (overrides: Partial<DispatcherSettings> = {}): DispatcherSettings => ({
    ackWaitMs,
    backoff: { baseMs: 50, maxMs: 200 },
    clock: Date.now,
    logger,
    stopGraceMs: 2_000,
    ...overrides,
  });
  return {
    nats,
    bus,
    js,
    jsm,
    kvm,
    topology,
    logger,
    dispatcherSettings,
    dispatchers(state, overrides) {
      const dispatchers = new QueueDispatchers({ js, kvm, topology, settings: dispatcherSettings(overrides), logger, state });
      started.push(dispatchers);
      return dispatchers;
    },
    async submit(service, body, submitOptions = {}) {
      const id = randomUUID();
      const headers = natsHeaders();
      headers.set(AsyncRequestHeader.requestId, id);
      headers.set(AsyncRequestHeader.method, "POST");
      headers.set(AsyncRequestHeader.path, submitOptions.path ?? "/");
      headers.set(AsyncRequestHeader.headers, JSON.stringify([["content-type", "application/json"]]));
      headers.set(AsyncRequestHeader.submittedAt, String(Date.now()));
      if (submitOptions.priority) headers.set(AsyncRequestHeader.priority, "1");
      if (submitOptions.callbackUrl) headers.set(AsyncRequestHeader.callbackUrl, submitOptions.callbackUrl);
      const layout = asyncQueueLayout(service);
      await js.publish(layout.requestSubject(id, submitOptions.priority ?? false), body, { msgID: id, headers });
      return id;
    },
    async outcome(service, requestId, timeoutMs = 15_000) {
      const results = await kvm.open(asyncQueueLayout(service).resultsBucket);
      return waitFor(
        `the outcome of ${requestId}`,
        async () => {
          const entry = await results.get(requestId);
          if (!entry || entry.operation !== "PUT") return undefined;
          const result = decodeAsyncResult(entry.value);
          return isOutcome(result) ? result : undefined;
        },
        { timeoutMs, intervalMs: 25 },
      );
    },
    async queued(service) {
      return (await jsm.streams.info(asyncQueueLayout(service).stream)).state.messages;
    },
    async close() {
      for (const dispatchers of started) await dispatchers.stop();
      await bus.close();
      await nats.stop();
    },
  };
}

/** An async service in the async-queue's view, with Ready instances at `endpoints` (id -> host:port). */
export function asyncService(
  name: string,
  endpoints: Record<string, string>,
  config: AsyncConfig = TEST_QUEUE,
  concurrency = 2,
): AsyncServicesState {
  const instances = Object.fromEntries(
    Object.entries(endpoints).map(([id, endpoint]) => [id, { ...absentInstance(id), service: name, phase: InstancePhase.Ready, endpoint }]),
  );
  return { [name]: { name, async: config, concurrency, stopped: false, instances } };
}

/** A real HTTP server standing in for an instance: counts requests, and how many ran at once at most. */
export interface TestInstance {
  readonly id: string;
  readonly endpoint: string;
  hits: number;
  inFlight: number;
  maxInFlight: number;
  /** Request ids (X-Request-Id) in the order they arrived. */
  readonly arrivals: string[];
  handler: (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>;
  close(): Promise<void>;
}

/** Answers `{"instance","echo"}` after `latencyMs` unless `handler` is replaced. */
export async function startInstance(id: string, latencyMs = 0): Promise<TestInstance> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const instance: TestInstance = {
    id,
    endpoint: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits: 0,
    inFlight: 0,
    maxInFlight: 0,
    arrivals: [],
    handler: async (_req, res, body) => {
      if (latencyMs > 0) await new Promise((resolve) => setTimeout(resolve, latencyMs));
      const answer = JSON.stringify({ instance: id, echo: body });
      res.writeHead(200, { "content-type": "application/json", "content-length": Buffer.byteLength(answer) });
      res.end(answer);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
  server.on("request", (req: IncomingMessage, res: ServerResponse) => {
    instance.hits++;
    instance.inFlight++;
    instance.maxInFlight = Math.max(instance.maxInFlight, instance.inFlight);
    instance.arrivals.push(String(req.headers["x-request-id"] ?? ""));
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      instance.inFlight--;
    };
    res.once("close", end);
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => void instance.handler(req, res, Buffer.concat(chunks).toString()));
  });
  return instance;
}

import { randomUUID } from "node:crypto";
import type { ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import type { NatsConnection } from "@nats-io/transport-node";
import { Counter, Gauge, Registry } from "prom-client";
import { collectProcessMetrics } from "./process-metrics.js";
import { connectNats, createBus, type Bus } from "@eas/bus";
import { connectJetStreamEventStore, connectKurrentDbEventStore, type EventStore, type RecordedEvent } from "@eas/event-store";
import { createProjectionRunner, type Projection, type ProjectionRunner } from "@eas/projections";
import { createLogger, createShutdown, type Logger, type LogLevel, type Shutdown, type Telemetry } from "@eas/telemetry";
import type { CommonConfig } from "./config.js";
import { startGrpcServer, type GrpcServerHandle } from "./grpc.js";
import { openKvCheckpointStore } from "./kv-checkpoints.js";
import { startOpsServer, type OpsServerHandle } from "./ops-http.js";

export interface ServiceHostOptions {
  /** Service name, e.g. "deployer"; also the OpenTelemetry service name. */
  name: string;
  config: CommonConfig;
  /** An id for this process, for logs and events' `source`; defaults to a random one. */
  instanceId?: string;
  /**
   * Telemetry started by the service's main.ts BEFORE it imported any gRPC or HTTP code
   * (instrumentation patches modules as they load); flushed on shutdown.
   */
  telemetry: Telemetry;
  /**
   * Skip the stack trace nats.js captures at the start of every request (a JetStream publish is one), for
   * processes that make thousands a second (the gateway's and the async-queue's queues): it was a tenth of the
   * async-queue's CPU. A request that times out then reports the timer's stack instead of the caller's.
   */
  noAsyncTraces?: boolean;
}

export interface RunProjectionOptions<State> {
  /** Keep a checkpoint in NATS KV so a restart replays only the tail of the log. Default true. */
  checkpoint?: boolean;
  onEvent?: (event: RecordedEvent, state: State) => void;
  /** JSON summary for /debug/projections; defaults to the position only. */
  describe?: (state: State) => unknown;
}

/**
 * What every EAS service process shares: logger, telemetry, NATS, the event store,
 * projections gated into /readyz, metrics, the gRPC and ops HTTP servers, graceful shutdown.
 * Each service's `main.ts` creates one host and wires its own handlers into it.
 */
export interface ServiceHost {
  readonly name: string;
  readonly instanceId: string;
  readonly logger: Logger;
  readonly bus: Bus;
  readonly store: EventStore;
  readonly metrics: Registry;
  readonly shutdown: Shutdown;
  /** Starts a projection runner; /readyz stays red until it has caught up. */
  runProjection<State>(projection: Projection<State>, options?: RunProjectionOptions<State>): Promise<ProjectionRunner<State>>;
  addGrpcService(definition: ServiceDefinition, implementation: UntypedServiceImplementation): void;
  /** Adds a readiness condition besides projections, e.g. "registered with scheduler". */
  addReadinessCheck(name: string, check: () => boolean): void;
  addDebugEndpoint(name: string, handler: () => unknown): void;
  /** Binds the gRPC (if any service was added) and ops HTTP servers. */
  listen(): Promise<{ grpcPort?: number; httpPort: number }>;
}

export async function createServiceHost(options: ServiceHostOptions): Promise<ServiceHost> {
  const { name, config } = options;
  const instanceId = options.instanceId ?? randomUUID().slice(0, 8);
  const { telemetry } = options;
  const logger = createLogger({ name, level: config.logLevel as LogLevel });
  const shutdown = createShutdown({ logger, timeoutMs: 15_000 });
  shutdown.onShutdown("telemetry", () => telemetry.shutdown(), "flush");

  // One NATS connection per process: the bus owns it, the JetStream event store shares it.
  const connectionName = `eas-${name}-${instanceId}`;
  const nc = await connectNats({
    servers: config.natsUrl.split(","),
    name: connectionName,
    ...(options.noAsyncTraces ? { connectionOptions: { noAsyncTraces: true } } : {}),
  });
  const bus = createBus(nc, { name: connectionName, logger });
  shutdown.onShutdown("nats", () => bus.drain(), "close-connections");

  const store = await openEventStore(config, nc);
  shutdown.onShutdown("event-store", () => store.close(), "close-connections");

  const metrics = new Registry();
  metrics.setDefaultLabels({ service: name });
  collectProcessMetrics(metrics);
  const projectionPosition = new Gauge({
    name: "eas_projection_position",
    help: "Log position the projection has applied",
    labelNames: ["projection"],
    registers: [metrics],
  });
  const projectionEvents = new Counter({
    name: "eas_projection_events_total",
    help: "Events applied by the projection",
    labelNames: ["projection"],
    registers: [metrics],
  });

  const runners: { runner: ProjectionRunner<unknown>; describe?: (state: unknown) => unknown }[] = [];
  const readinessChecks = new Map<string, () => boolean>();
  const debug: Record<string, () => unknown> = {
    projections: () =>
      Object.fromEntries(
        runners.map(({ runner, describe }) => [
          runner.status().name,
          { ...runner.status(), ...(describe ? { state: describe(runner.state) } : {}) },
        ]),
      ),
  };
  const grpcServices: { definition: ServiceDefinition; implementation: UntypedServiceImplementation }[] = [];
  let grpcServer: GrpcServerHandle | undefined;
  let opsServer: OpsServerHandle | undefined;
  let checkpointsPromise: ReturnType<typeof openKvCheckpointStore> | undefined;

  return {
    name,
    instanceId,
    logger,
    bus,
    store,
    metrics,
    shutdown,
    async runProjection<State>(projection: Projection<State>, runOptions: RunProjectionOptions<State> = {}) {
      const useCheckpoint = runOptions.checkpoint ?? true;
      if (useCheckpoint && !checkpointsPromise) checkpointsPromise = openKvCheckpointStore(bus.keyValue(), name);
      const checkpoints = useCheckpoint ? await checkpointsPromise : undefined;
      const runner = createProjectionRunner<State>({
        store,
        projection,
        ...(checkpoints ? { checkpoints } : {}),
        onEvent: (event, state) => {
          projectionPosition.set({ projection: projection.name }, event.position);
          projectionEvents.inc({ projection: projection.name });
          runOptions.onEvent?.(event, state);
        },
        onError: (error) => logger.error({ err: error, projection: projection.name }, "projection failed"),
      });
      runners.push({
        runner: runner as ProjectionRunner<unknown>,
        ...(runOptions.describe ? { describe: runOptions.describe as (state: unknown) => unknown } : {}),
      });
      shutdown.onShutdown(`projection ${projection.name}`, () => runner.stop(), "drain");
      await runner.start();
      void runner.caughtUp.then(() => logger.info({ projection: projection.name, position: runner.position }, "projection caught up"));
      return runner;
    },
    addGrpcService(definition, implementation) {
      grpcServices.push({ definition, implementation });
    },
    addReadinessCheck(checkName, check) {
      readinessChecks.set(checkName, check);
    },
    addDebugEndpoint(endpoint, handler) {
      debug[endpoint] = handler;
    },
    async listen() {
      if (grpcServices.length > 0) {
        grpcServer = await startGrpcServer(grpcServices, config.bindHost, config.grpcPort);
        const server = grpcServer;
        shutdown.onShutdown("grpc", () => server.stop(), "stop-accepting");
      }
      opsServer = await startOpsServer(
        {
          healthy: () => true,
          readiness: () => {
            const reasons: string[] = [];
            if (shutdown.isShuttingDown) reasons.push("shutting down");
            for (const { runner } of runners) {
              if (!runner.isCaughtUp()) reasons.push(`projection ${runner.status().name} catching up`);
            }
            if (bus.isClosed()) reasons.push("NATS connection closed");
            for (const [checkName, check] of readinessChecks) if (!check()) reasons.push(checkName);
            return { ready: reasons.length === 0, reasons };
          },
          registry: metrics,
          debug,
        },
        config.bindHost,
        config.httpPort,
      );
      const ops = opsServer;
      shutdown.onShutdown("ops-http", () => ops.close(), "close-connections");
      logger.info({ grpcPort: grpcServer?.port, httpPort: ops.port }, `${name} listening`);
      return { ...(grpcServer ? { grpcPort: grpcServer.port } : {}), httpPort: ops.port };
    },
  };
}

async function openEventStore(config: CommonConfig, nc: NatsConnection): Promise<EventStore> {
  if (config.eventStore === "kurrentdb") {
    if (!config.kurrentDbUrl) throw new Error("EAS_KURRENTDB_URL is required when EAS_EVENT_STORE=kurrentdb");
    return connectKurrentDbEventStore({ connectionString: config.kurrentDbUrl });
  }
  return connectJetStreamEventStore({ nc });
}

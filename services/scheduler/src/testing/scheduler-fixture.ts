/*
 * A scheduler wired the way main.ts wires it, on a caller's NATS connection,
 * for the integration tests. Not part of the public surface (not re-exported
 * from index.ts).
 */
import { randomUUID } from "node:crypto";
import { credentials, type ServiceError } from "@grpc/grpc-js";
import type { Bus } from "@eas/bus";
import { connectJetStreamEventStore, type EventStore } from "@eas/event-store";
import { createProjectionRunner, type ProjectionRunner } from "@eas/projections";
import {
  SchedulerClient,
  SchedulerService,
  type CordonNodeRequest,
  type ListNodesRequest,
  type ListNodesResponse,
  type NodeInfo,
  type PlaceInstanceRequest,
  type PlaceInstanceResponse,
  type ReclaimNodeRequest,
  type RegisterNodeRequest,
  type ReleaseInstanceRequest,
  type ReleaseInstanceResponse,
  type Resources,
  type SuggestRebalanceRequest,
  type SuggestRebalanceResponse,
} from "@eas/proto";
import { startGrpcServer } from "@eas/service-kit";
import { createLogger } from "@eas/telemetry";
import { startLostNodeMonitor, type LostNodeMonitor } from "../heartbeats/lost-nodes.js";
import { subscribeToHeartbeats } from "../heartbeats/subscriber.js";
import { createHeartbeatTracker, type HeartbeatTracker } from "../heartbeats/tracker.js";
import type { ClusterState } from "../projections/evolve-cluster.js";
import { clusterProjection } from "../projections/cluster.js";
import { createSchedulerApi } from "../api/scheduler-api.js";

export interface SchedulerFixture {
  /** Names the fixture's event stream: a second fixture started with it reads the same log (a restart). */
  readonly tag: string;
  readonly store: EventStore;
  readonly cluster: ProjectionRunner<ClusterState>;
  readonly heartbeats: HeartbeatTracker;
  readonly client: SchedulerClient;
  readonly calls: SchedulerCalls;
  readonly monitor: LostNodeMonitor | undefined;
  stop(): Promise<void>;
}

/**
 * Starts the Scheduler API on a real gRPC server (port 0) over a JetStream
 * event store of its own at `natsUrl` (a fresh stream per fixture, so tests do
 * not see each other's nodes). With `lostNodes`, also the heartbeat
 * subscription (on `bus`) and the lost-node monitor. With `tag`, over the stream of an earlier fixture.
 */
export async function startSchedulerFixture(
  bus: Bus,
  options: { natsUrl: string; lostNodes?: { heartbeatTimeoutMs: number; intervalMs: number }; fleetGraceMs?: number; tag?: string },
): Promise<SchedulerFixture> {
  const tag = options.tag ?? randomUUID().replaceAll("-", "").slice(0, 12);
  const store = await connectJetStreamEventStore({
    servers: options.natsUrl,
    streamName: `SCHED_${tag}`,
    subjectPrefix: `sched${tag}.events`,
  });
  const cluster = createProjectionRunner({ store, projection: clusterProjection });
  await cluster.start();
  await cluster.caughtUp;
  const logger = createLogger({ name: "scheduler-test", level: "silent" });
  const now = (): number => Date.now();
  const heartbeats = createHeartbeatTracker({ startedAt: now() });
  const source = `eas/scheduler/test-${tag}`;
  const server = await startGrpcServer(
    [
      {
        definition: SchedulerService,
        implementation: createSchedulerApi({ store, cluster, heartbeats, logger, now, source, fleetGraceMs: options.fleetGraceMs ?? 0 }),
      },
    ],
    "127.0.0.1",
    0,
  );
  const client = new SchedulerClient(`127.0.0.1:${server.port}`, credentials.createInsecure());
  const subscription = options.lostNodes ? subscribeToHeartbeats({ bus, tracker: heartbeats, now, logger }) : undefined;
  const monitor = options.lostNodes
    ? startLostNodeMonitor({ store, cluster, heartbeats, ...options.lostNodes, now, logger, source })
    : undefined;
  return {
    tag,
    store,
    cluster,
    heartbeats,
    client,
    calls: schedulerCalls(client),
    monitor,
    async stop() {
      client.close();
      await monitor?.stop();
      await subscription?.drain();
      await server.stop(1000);
      await cluster.stop();
      await store.close();
    },
  };
}

/** The client's unary methods as promises (rejecting with the gRPC ServiceError). */
export interface SchedulerCalls {
  registerNode(request: RegisterNodeRequest): Promise<NodeInfo>;
  listNodes(): Promise<NodeInfo[]>;
  cordonNode(request: CordonNodeRequest): Promise<NodeInfo>;
  placeInstance(request: PlaceInstanceRequest): Promise<PlaceInstanceResponse>;
  releaseInstance(request: ReleaseInstanceRequest): Promise<ReleaseInstanceResponse>;
  reclaimNode(request: ReclaimNodeRequest): Promise<NodeInfo>;
  suggestRebalance(request: SuggestRebalanceRequest): Promise<SuggestRebalanceResponse>;
}

export function schedulerCalls(client: SchedulerClient): SchedulerCalls {
  const promised =
    <Req, Res>(method: (request: Req, callback: (error: ServiceError | null, response: Res) => void) => unknown) =>
    (request: Req): Promise<Res> =>
      new Promise((resolve, reject) => {
        method.call(client, request, (error, response) => (error ? reject(error) : resolve(response)));
      });
  const listNodes = promised<ListNodesRequest, ListNodesResponse>(client.listNodes);
  return {
    registerNode: promised<RegisterNodeRequest, NodeInfo>(client.registerNode),
    listNodes: async () => (await listNodes({})).nodes,
    cordonNode: promised<CordonNodeRequest, NodeInfo>(client.cordonNode),
    placeInstance: promised<PlaceInstanceRequest, PlaceInstanceResponse>(client.placeInstance),
    releaseInstance: promised<ReleaseInstanceRequest, ReleaseInstanceResponse>(client.releaseInstance),
    reclaimNode: promised<ReclaimNodeRequest, NodeInfo>(client.reclaimNode),
    suggestRebalance: promised<SuggestRebalanceRequest, SuggestRebalanceResponse>(client.suggestRebalance),
  };
}

/** Resources shorthand. */
export function resources(partial: Partial<Resources> = {}): Resources {
  return { cpuMillis: 0, memoryMib: 0, gpu: 0, gpuType: "", gpuMemoryGib: 0, ...partial };
}

/** A registration of a public-pool node with 4 cores and 8 GiB unless told otherwise. */
export function registration(nodeId: string, partial: Partial<RegisterNodeRequest> = {}): RegisterNodeRequest {
  return {
    nodeId,
    capacity: resources({ cpuMillis: 4000, memoryMib: 8192 }),
    resourceGroup: "",
    spot: false,
    pricePerHour: 1,
    agentAddress: `127.0.0.1:${20000 + nodeId.length}`,
    labels: {},
    rates: { cpuCoreHourMicros: 0, memoryGibHourMicros: 0, gpuHourMicros: 0 },
    ...partial,
  };
}

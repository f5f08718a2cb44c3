import type { Bus } from "@eas/bus";
import { heartbeatSubject, type HourlyRates } from "@eas/contracts";
import { unaryCall, type RegisterNodeRequest, type SchedulerClient } from "@eas/proto";
import type { ConfigOf } from "@eas/service-kit";
import type { Logger } from "@eas/telemetry";
import type { agentConfigSpec } from "../config.js";

/** The node's presence in the cluster: registered with the scheduler, heartbeating while it lives. */
export interface NodePresence {
  /** Whether the scheduler has accepted the node's first registration. */
  isRegistered(): boolean;
  /** Stops registering and heartbeating. */
  stop(): void;
}

export interface NodePresenceOptions {
  scheduler: SchedulerClient;
  registration: RegisterNodeRequest;
  bus: Bus;
  /** How many instances the agent runs now, for the heartbeat. */
  instanceCount: () => number;
  logger: Logger;
  /** Pause between registration attempts until the first succeeds; default 500 ms. */
  retryMs?: number;
  /** Period of the repeated registration once registered; default 10 s. */
  reRegisterMs?: number;
  /** Period of the heartbeat; default 1 s. */
  heartbeatMs?: number;
}

/** What the agent registers: its capacity, pool, prices and the address the deployer calls it on. */
export function nodeRegistration(config: ConfigOf<typeof agentConfigSpec>, agentAddress: string, rates: HourlyRates): RegisterNodeRequest {
  return {
    nodeId: config.nodeId,
    capacity: { cpuMillis: config.cpuMillis, memoryMib: config.memoryMib, gpu: config.gpu, gpuType: config.gpuType, gpuMemoryGib: 0 },
    resourceGroup: config.resourceGroup,
    spot: config.spot,
    pricePerHour: config.pricePerHour,
    agentAddress,
    labels: {},
    rates: { ...rates },
    instanceType: config.instanceType,
  };
}

/**
 * Registers the node with the scheduler, retrying until it answers, then registers again every
 * `reRegisterMs` and publishes a heartbeat every `heartbeatMs` on `eas.telemetry.heartbeat.<node>`.
 */
export function startNodePresence(options: NodePresenceOptions): NodePresence {
  const { scheduler, registration, bus, logger } = options;
  const nodeId = registration.nodeId;
  let registered = false;
  let stopped = false;
  let reRegister: NodeJS.Timeout | undefined;

  const registerOnce = () => unaryCall(scheduler, scheduler.registerNode, registration, 5_000);
  const register = async () => {
    for (let attempt = 1; !registered && !stopped; attempt++) {
      try {
        await registerOnce();
        registered = true;
        logger.info({ nodeId }, "node registered");
      } catch (error) {
        if (attempt % 10 === 1) logger.warn({ reason: (error as Error).message }, "scheduler not reachable yet; retrying");
        await new Promise((r) => setTimeout(r, options.retryMs ?? 500));
      }
    }
  };
  void register().then(() => {
    if (stopped) return;
    // Register again now and then: a node the scheduler marked Lost (a partition, a long pause)
    // only becomes Ready again through RegisterNode; repeating an identical registration writes nothing.
    reRegister = setInterval(() => {
      registerOnce().catch((error: unknown) => logger.warn({ reason: (error as Error).message }, "re-registration failed"));
    }, options.reRegisterMs ?? 10_000);
  });

  const beat = setInterval(() => {
    if (!registered) return;
    bus.publish(heartbeatSubject.with(nodeId), {
      nodeId,
      at: new Date().toISOString(),
      instances: options.instanceCount(),
      agentAddress: registration.agentAddress,
    });
  }, options.heartbeatMs ?? 1_000);

  return {
    isRegistered: () => registered,
    stop() {
      stopped = true;
      clearInterval(beat);
      clearInterval(reRegister);
    },
  };
}

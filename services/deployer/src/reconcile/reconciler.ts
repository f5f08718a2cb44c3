import { randomBytes } from "node:crypto";
import { credentials, status } from "@grpc/grpc-js";
import type { EventStore } from "@eas/event-store";
import { instanceStream, serviceStream } from "@eas/events";
import { InstanceCommandType, instanceLifecycleDecider, MoveCause, type InstanceCommand } from "@eas/instance-lifecycle";
import type { ProjectionRunner } from "@eas/projections";
import { AgentClient, SchedulerClient, ServiceSpec, unaryCall } from "@eas/proto";
import { executeCommand } from "@eas/service-kit";
import type { Logger } from "@eas/telemetry";
import { specOfVersion } from "../api/service-info.js";
import { serviceDecider } from "../domain/service-decider.js";
import type { ServiceView, ServiceViews } from "../projections/service-views.js";
import { planReconcile, rebalanceCandidates, type ReconcileAction } from "./plan.js";
import { createReconcileTracing } from "./tracing.js";

export interface ReconcilerDeps {
  store: EventStore;
  views: ProjectionRunner<ServiceViews>;
  schedulerAddress: string;
  logger: Logger;
  source: string;
  now?: () => number;
  intervalMs?: number;
  drainMs?: number;
  startRetryMs?: number;
  /**
   * Time between two rebalance checks over the whole cluster, each starting one move at most, and none while a
   * move is under way (0: never rebalance). Default 5 s.
   */
  rebalanceIntervalMs?: number;
}

export interface Reconciler {
  /** Runs one pass now over every service that has no actions in flight. */
  reconcileOnce(): Promise<void>;
  /** Asks for a pass soon, e.g. after the read model changed. */
  nudge(): void;
  stop(): Promise<void>;
}

/**
 * Converges actual instances to the desired ones. Everything it needs is in the read model
 * (rebuilt from the log), so a restarted deployer picks up where the last one stopped:
 * scheduled-but-never-started instances are started again, draining ones are stopped.
 */
export function startReconciler(deps: ReconcilerDeps): Reconciler {
  const { store, views, logger } = deps;
  const now = deps.now ?? Date.now;
  const scheduler = new SchedulerClient(deps.schedulerAddress, credentials.createInsecure());
  const agents = new Map<string, AgentClient>();
  const pendingCreates = new Map<string, number>();
  const tracing = createReconcileTracing(store);
  let stopped = false;

  const agentAt = (address: string) => {
    let client = agents.get(address);
    if (!client) {
      client = new AgentClient(address, credentials.createInsecure());
      agents.set(address, client);
    }
    return client;
  };

  /**
   * The node's agent at its current address: the scheduler has heard from it there in this run. After a
   * restart the address of the previous run is not it (nobody listens there): undefined until the agent is back.
   * A Lost or reclaimed node is not known: its instances cannot be reached there.
   */
  const agentOf = async (nodeId: string): Promise<{ agent?: AgentClient; known: boolean }> => {
    const { nodes } = await unaryCall(scheduler, scheduler.listNodes, {}, 5_000);
    const node = nodes.find((n) => n.nodeId === nodeId && n.status !== "Lost" && n.status !== "Reclaimed");
    if (!node) return { known: false };
    return node.agentConnected ? { agent: agentAt(node.agentAddress), known: true } : { known: true };
  };

  /** Drains or records an instance stopped through the lifecycle decider; waits until the view has it. */
  const recordInstance = async (command: InstanceCommand) => {
    const result = await executeCommand({
      store,
      stream: instanceStream(command.instanceId),
      decider: instanceLifecycleDecider,
      command,
      source: deps.source,
    });
    if (result.position !== undefined) await views.waitForPosition(result.position);
  };

  const startOnAgent = async (agent: AgentClient, view: ServiceView, instanceId: string, version: number) => {
    const spec = specOfVersion(view, version) ?? ServiceSpec.fromPartial({ name: view.name });
    await unaryCall(agent, agent.startInstance, { instanceId, service: view.name, version, spec }, 60_000);
  };

  const create = async (view: ServiceView, version: number) => {
    const spec = specOfVersion(view, version);
    if (!spec) return;
    const instanceId = `${view.name.replace(/_/g, "-")}-v${version}-${randomBytes(3).toString("hex")}`;
    pendingCreates.set(view.name, (pendingCreates.get(view.name) ?? 0) + 1);
    try {
      const placement = await unaryCall(scheduler, scheduler.placeInstance, {
        instanceId,
        service: view.name,
        version,
        resources: spec.resources,
        resourceGroup: spec.resourceGroup,
        resourceBurstable: spec.resourceBurstable,
        spotAllowed: spec.cloud?.spotAllowed ?? false,
        maxSpotPrice: spec.cloud?.maxSpotPrice ?? 0,
        instanceTypes: spec.cloud?.instances ?? [],
      });
      if (!placement.placed) {
        if (view.placementBlocked !== placement.reason) {
          const result = await executeCommand({
            store,
            stream: serviceStream(view.name),
            decider: serviceDecider,
            command: { type: "RecordPlacementBlocked", name: view.name, reason: placement.reason, now: new Date(now()).toISOString() },
            source: deps.source,
          });
          if (result.position !== undefined) await views.waitForPosition(result.position);
        }
        return;
      }
      logger.info({ service: view.name, instanceId, node: placement.nodeId }, "instance placed");
      // The scheduler appended InstanceScheduled; make sure our view has it before the next pass.
      await waitForInstance(view.name, instanceId);
      await startOnAgent(agentAt(placement.agentAddress), view, instanceId, version);
    } finally {
      pendingCreates.set(view.name, (pendingCreates.get(view.name) ?? 1) - 1);
    }
  };

  const waitForInstance = async (service: string, instanceId: string) => {
    const deadline = now() + 10_000;
    while (!views.state[service]?.instances[instanceId]) {
      // Failing here keeps the instance counted as pending no longer; the next pass sees the truth.
      if (now() > deadline) throw new Error(`instance ${instanceId} did not appear in the view within 10 s`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const recordStopped = (service: string, instanceId: string, reason: string) =>
    recordInstance({
      type: InstanceCommandType.ReportStopped,
      instanceId,
      service,
      nodeId: "",
      reason,
      now: new Date(now()).toISOString(),
    });

  const execute = async (view: ServiceView, action: ReconcileAction) => {
    switch (action.kind) {
      case "create":
        return create(view, action.version);
      case "drain":
        return recordInstance({
          type: InstanceCommandType.DrainInstance,
          instanceId: action.instanceId,
          service: view.name,
          now: new Date(now()).toISOString(),
        });
      case "stop": {
        const { agent, known } = await agentOf(action.nodeId);
        if (!known) return recordStopped(view.name, action.instanceId, "its node is gone");
        // Its agent is not back yet (a restart): stop it once it is; its next run reports what it left.
        if (!agent) return;
        try {
          await unaryCall(agent, agent.stopInstance, { instanceId: action.instanceId, gracePeriodMs: 10_000 }, 20_000);
        } catch (error) {
          // The agent never ran it (it restarted before the start arrived): nothing to stop there.
          if ((error as { code?: number }).code !== status.NOT_FOUND) throw error;
          await recordStopped(view.name, action.instanceId, "not running on its node");
        }
        return;
      }
      case "start": {
        const { agent } = await agentOf(action.nodeId);
        if (agent) await startOnAgent(agent, view, action.instanceId, action.version);
        return;
      }
    }
  };

  // Services converge independently: a service whose actions are still running (a graceful stop can
  // take seconds) is skipped by later passes instead of holding every other service up.
  const busy = new Map<string, Promise<void>>();

  const converge = async (view: ServiceView) => {
    const actions = planReconcile(view, {
      now: now(),
      drainMs: deps.drainMs ?? 500,
      startRetryMs: deps.startRetryMs ?? 15_000,
      pendingCreates: pendingCreates.get(view.name) ?? 0,
    });
    if (actions.length === 0) return tracing.idle(view);
    await tracing.run(view, async () => {
      for (const action of actions) {
        if (stopped) return;
        try {
          await execute(view, action);
        } catch (error) {
          logger.warn({ err: error, service: view.name, action }, "reconcile action failed; will retry");
        }
      }
    });
  };

  const reconcileOnce = async () => {
    if (stopped) return;
    const started: Promise<void>[] = [];
    for (const view of Object.values(views.state)) {
      if (busy.has(view.name)) continue;
      const task = converge(view).finally(() => busy.delete(view.name));
      busy.set(view.name, task);
      started.push(task);
    }
    await Promise.all(started);
  };

  /**
   * One rebalance check over the cluster: unless a rebalance move is still under way somewhere, asks the
   * scheduler, service by service, whether a settled service's replicas should spread, and records the first
   * move it suggests (InstanceMoveRequested, cause "rebalance", with the scheduler's reason). The plan then
   * replaces that instance make-before-break. One move per check, one at a time: rate-limited cluster-wide.
   */
  const rebalanceOnce = async (): Promise<void> => {
    const all = Object.values(views.state);
    const moving = all.some((view) => Object.values(view.instances).some((i) => i.moveCause === MoveCause.Rebalance));
    if (stopped || moving) return;
    for (const view of all.sort((a, b) => a.name.localeCompare(b.name))) {
      const spec = specOfVersion(view, view.currentVersion);
      const candidates = spec && rebalanceCandidates(view, spec.rebalanceDisabled);
      if (!spec || !candidates || busy.has(view.name)) continue;
      const suggestion = await unaryCall(scheduler, scheduler.suggestRebalance, {
        service: view.name,
        resources: spec.resources,
        resourceGroup: spec.resourceGroup,
        resourceBurstable: spec.resourceBurstable,
        spotAllowed: spec.cloud?.spotAllowed ?? false,
        maxSpotPrice: spec.cloud?.maxSpotPrice ?? 0,
        instanceTypes: spec.cloud?.instances ?? [],
        instanceIds: candidates,
      });
      if (!suggestion.move) continue;
      logger.info({ service: view.name, instanceId: suggestion.instanceId, from: suggestion.fromNode, to: suggestion.toNode }, "rebalance");
      await recordInstance({
        type: InstanceCommandType.RequestMove,
        instanceId: suggestion.instanceId,
        cause: MoveCause.Rebalance,
        reason: suggestion.reason,
        onlyOnNode: suggestion.fromNode,
        now: new Date(now()).toISOString(),
      });
      return;
    }
  };

  const timer = setInterval(() => void reconcileOnce(), deps.intervalMs ?? 500);
  const rebalanceMs = deps.rebalanceIntervalMs ?? 5_000;
  let rebalancing: Promise<void> = Promise.resolve();
  const rebalanceTimer =
    rebalanceMs > 0
      ? setInterval(() => {
          rebalancing = rebalancing
            .then(rebalanceOnce)
            .catch((error: unknown) => logger.warn({ err: error }, "rebalance check failed; will retry"));
        }, rebalanceMs)
      : undefined;
  return {
    reconcileOnce,
    nudge: () => void reconcileOnce(),
    async stop() {
      stopped = true;
      clearInterval(timer);
      clearInterval(rebalanceTimer);
      await rebalancing;
      await Promise.all(busy.values());
      scheduler.close();
      for (const agent of agents.values()) agent.close();
    },
  };
}

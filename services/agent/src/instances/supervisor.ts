import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { foldEvents, PreconditionFailedError, ValidationError } from "@eas/decider";
import type { EventStore } from "@eas/event-store";
import { decodeEvent, instanceStream } from "@eas/events";
import {
  InstanceCommandType,
  InstancePhase,
  InstanceTransitionRefused,
  MoveCause,
  hasEnded,
  instanceLifecycleDecider,
  isInstanceEvent,
  isLeavingService,
  type InstanceCommand,
  type InstanceLifecycle,
} from "@eas/instance-lifecycle";
import { freePort, isRecordedProcessAlive, killRecordedGroup, readPidRecord, writePidRecord } from "@eas/process-kit";
import type { AgentInstance, ServiceSpec } from "@eas/proto";
import { executeCommand } from "@eas/service-kit";
import type { Logger } from "@eas/telemetry";
import {
  InstanceStatus,
  mountsForSpec,
  resolveRuntime,
  type InstanceStatusEvent,
  type LogLine,
  type RunningInstance,
  type RuntimeDriver,
} from "../runtime/index.js";
import { OrphanInstance } from "../runtime/orphan.js";
import { terminateGroup } from "../runtime/process-group.js";
import type { StorageFetcher } from "../storage/index.js";
import { startRequestViolations } from "./start-request.js";
import { InstanceStartSpan } from "./start-span.js";
import { reportCommand } from "./status-report.js";

export interface SupervisorDeps {
  nodeId: string;
  store: EventStore;
  driver: RuntimeDriver;
  storage: StorageFetcher;
  /** `<dataDir>/agents/<nodeId>`: instance folders and pid files live here. */
  nodeDir: string;
  repoRoot: string;
  logger: Logger;
  source: string;
  extraEnv?: Record<string, string>;
}

interface Managed {
  instanceId: string;
  service: string;
  version: number;
  status: string;
  endpoint: string;
  running?: RunningInstance;
  /** Events of one instance are appended in order. */
  chain: Promise<void>;
  /** Settles once the launch has started the process, failed, or given up because of a stop. */
  launched: Promise<void>;
  stopping?: Promise<void>;
  /** Open from the StartInstance call until the first Ready (or a failure or stop before it); none for an orphan taken over. */
  startSpan?: InstanceStartSpan;
}

/**
 * Grace period when the agent stops an instance on its own because the log says it is leaving service
 * (a report of it was refused: it is Draining, Stopped or Failed).
 */
const LEAVING_SERVICE_GRACE_MS = 10_000;

/**
 * Runs the instances the deployer places on this node and reports their lifecycle as events, each through
 * the instance lifecycle decider with an expected revision: a report the state machine refuses (a Ready
 * for an instance the deployer drained meanwhile) is not written, and the agent stops that instance.
 */
export class InstanceSupervisor {
  readonly #deps: SupervisorDeps;
  readonly #instances = new Map<string, Managed>();

  constructor(deps: SupervisorDeps) {
    this.#deps = deps;
    mkdirSync(join(deps.nodeDir, "instances"), { recursive: true });
  }

  /**
   * Takes over what a previous run of this agent left behind (found through pid files), so that an agent
   * crash costs no request and no instance is doubled:
   *
   * - an instance whose process still runs and that the log still wants (not Draining, Stopped or Failed) is
   *   kept as an orphan ({@link OrphanInstance}: watched, stopped on request, not restarted) and asked to move
   *   (InstanceMoveRequested, cause "orphaned"): the deployer starts its replacement, drains it once the
   *   replacement is Ready, then stops it here. One the deployer drained meanwhile is kept too, for its stop;
   * - one whose process is gone (or was still fetching its storage) is reported Failed, and replaced;
   * - one whose life is over in the log is killed, gracefully.
   */
  async recoverLeftovers(): Promise<void> {
    const root = join(this.#deps.nodeDir, "instances");
    const { nodeId, logger } = this.#deps;
    for (const instanceId of readdirSync(root)) {
      const dir = join(root, instanceId);
      const record = readPidRecord(dir);
      if (!record) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      const life = await this.#lifeOf(instanceId);
      const alive = isRecordedProcessAlive(record);
      if (alive && record.pid !== undefined && !hasEnded(life.phase) && life.phase !== InstancePhase.Absent) {
        this.#adopt(instanceId, record.service, record.pid, life);
        if (life.phase !== InstancePhase.Draining) {
          await this.#record({
            type: InstanceCommandType.RequestMove,
            instanceId,
            cause: MoveCause.Orphaned,
            reason: `left running by the previous run of the agent on ${nodeId}: replaced, then stopped`,
            onlyOnNode: nodeId,
            now: new Date().toISOString(),
          });
        }
        logger.warn({ instanceId, pid: record.pid, phase: life.phase }, "took over an instance left running by a previous agent run");
        continue;
      }
      if (alive && record.pid !== undefined) {
        await terminateGroup(record.pid, LEAVING_SERVICE_GRACE_MS);
      } else {
        const outcome = killRecordedGroup(record);
        if (outcome === "unusable-pid")
          logger.error({ instanceId, pid: record.pid }, "pid.json holds no usable process id; killing nothing");
        if (outcome === "pid-reused")
          logger.warn({ instanceId, pid: record.pid }, "the instance's pid was reused by another process; not killing it");
      }
      await this.#record({
        type: InstanceCommandType.FailInstance,
        instanceId,
        service: record.service,
        reason: `agent on ${nodeId} restarted`,
        now: new Date().toISOString(),
      });
      rmSync(dir, { recursive: true, force: true });
      logger.warn({ instanceId, pid: record.pid, alive }, "reaped an instance left by a previous agent run");
    }
  }

  async #lifeOf(instanceId: string): Promise<InstanceLifecycle> {
    const recorded = await this.#deps.store.readStream(instanceStream(instanceId));
    return foldEvents(
      instanceLifecycleDecider,
      recorded.flatMap((r) => {
        const e = decodeEvent(r);
        return e && isInstanceEvent(e) ? [e] : [];
      }),
    );
  }

  /** Runs a process of a previous agent run as an orphan: stopped on request, reported when it ends. */
  #adopt(instanceId: string, service: string, pid: number, life: InstanceLifecycle): void {
    const managed: Managed = {
      instanceId,
      service,
      version: life.version,
      status: InstanceStatus.Ready,
      endpoint: life.endpoint,
      chain: Promise.resolve(),
      launched: Promise.resolve(),
    };
    managed.running = new OrphanInstance({
      pgid: pid,
      endpoint: `http://${life.endpoint}`,
      hooks: { onStatus: (status) => this.#report(managed, status) },
    });
    this.#instances.set(instanceId, managed);
  }

  list(): AgentInstance[] {
    return [...this.#instances.values()].map((m) => this.#describe(m));
  }

  get(instanceId: string): AgentInstance | undefined {
    const managed = this.#instances.get(instanceId);
    return managed && this.#describe(managed);
  }

  /**
   * Idempotent: starting an instance this agent already runs returns its current state.
   * @throws ValidationError naming the field when the request cannot be run; nothing is started then.
   * @throws PreconditionFailedError when the instance's stream says it has ended (Stopped or Failed): an
   *   instance id lives once, a retry after a failure is a new instance.
   */
  async start(instanceId: string, service: string, version: number, spec: ServiceSpec | undefined): Promise<AgentInstance> {
    const violations = startRequestViolations(instanceId, spec, {
      repoRoot: this.#deps.repoRoot,
      instanceDir: join(this.#deps.nodeDir, "instances", instanceId),
    });
    if (violations.length > 0 || !spec) throw new ValidationError(violations);
    const running = this.#instances.get(instanceId);
    if (running) return this.#describe(running);
    const life = await this.#lifeOf(instanceId);
    if (hasEnded(life.phase)) {
      throw new PreconditionFailedError(`instance ${instanceId} has ended (${life.phase}); start a new instance id`);
    }
    // A concurrent start of the same id may have won while the stream was read.
    const existing = this.#instances.get(instanceId);
    if (existing) return this.#describe(existing);
    const managed: Managed = {
      instanceId,
      service,
      version,
      status: InstanceStatus.Starting,
      endpoint: "",
      chain: Promise.resolve(),
      launched: Promise.resolve(),
      startSpan: new InstanceStartSpan({ instanceId, service, version, nodeId: this.#deps.nodeId }),
    };
    this.#instances.set(instanceId, managed);
    managed.launched = this.#launch(managed, spec);
    return this.#describe(managed);
  }

  async stop(instanceId: string, gracePeriodMs: number): Promise<AgentInstance | undefined> {
    const managed = this.#instances.get(instanceId);
    if (!managed) return undefined;
    managed.stopping ??= (async () => {
      if (managed.running) {
        await managed.running.stop(gracePeriodMs);
      } else {
        this.#report(managed, { status: InstanceStatus.Stopped, reason: "stopped before it started", restartCount: 0, at: Date.now() });
      }
      await managed.chain;
      // A launch still fetching storage gives up when it sees the stop; until then it may still write
      // into the instance folder. A fetch cannot be cancelled (the cache may share it with other
      // instances), so a long one (a large model) holds the stop only for the grace period; the folder
      // goes once the launch has given up, unless a new start of this id owns it by then.
      const instanceDir = join(this.#deps.nodeDir, "instances", instanceId);
      const launchEnded = await settlesWithin(managed.launched, gracePeriodMs);
      this.#instances.delete(instanceId);
      // The instance's cache entries are unused once its folder is gone: a budgeted cache may free them.
      if (launchEnded) {
        rmSync(instanceDir, { recursive: true, force: true });
        void this.#deps.storage.evictUnused();
      } else {
        void managed.launched.then(() => {
          if (this.#instances.has(instanceId)) return;
          rmSync(instanceDir, { recursive: true, force: true });
          void this.#deps.storage.evictUnused();
        });
      }
    })();
    await managed.stopping;
    return this.#describe(managed);
  }

  async stopAll(gracePeriodMs: number): Promise<void> {
    await Promise.all([...this.#instances.keys()].map((id) => this.stop(id, gracePeriodMs)));
  }

  /**
   * The instance's last `lines` output lines, oldest first; empty while it is still fetching its storage.
   * Undefined for an instance this agent does not run.
   */
  logs(instanceId: string, lines: number): LogLine[] | undefined {
    const managed = this.#instances.get(instanceId);
    if (!managed) return undefined;
    return managed.running?.tail(lines) ?? [];
  }

  async stats(): Promise<{ instanceId: string; service: string; version: number; cpuPercent: number; memoryBytes: number }[]> {
    const rows = [];
    for (const m of this.#instances.values()) {
      if (!m.running) continue;
      const s = await m.running.stats().catch(() => ({ cpuPercent: 0, memoryBytes: 0 }));
      rows.push({ instanceId: m.instanceId, service: m.service, version: m.version, ...s });
    }
    return rows;
  }

  async #launch(managed: Managed, spec: ServiceSpec): Promise<void> {
    const instanceDir = join(this.#deps.nodeDir, "instances", managed.instanceId);
    try {
      mkdirSync(instanceDir, { recursive: true });
      // Recorded before the fetch: an agent that crashes while fetching still reports the instance at its next start.
      writePidRecord(instanceDir, managed.service);
      const mounts = await this.#deps.storage.materialize(mountsForSpec(spec), instanceDir);
      const port = await freePort();
      const resolved = resolveRuntime(spec, mounts, {
        repoRoot: this.#deps.repoRoot,
        instanceDir,
        port,
        instanceId: managed.instanceId,
        version: managed.version,
        extraEnv: { EAS_MODEL_NAME: managed.service, ...this.#deps.extraEnv },
      });
      if (managed.stopping) return;
      managed.running = this.#deps.driver.start(resolved, {
        onStatus: (status) => {
          if (status.pid !== undefined) writePidRecord(instanceDir, managed.service, status.pid);
          this.#report(managed, status);
        },
      });
      managed.endpoint = managed.running.endpoint.replace(/^https?:\/\//, "");
    } catch (error) {
      // Stopped while it was still being laid out: already reported Stopped, not a failure.
      if (managed.stopping) return;
      const reason = error instanceof Error ? error.message : String(error);
      this.#deps.logger.warn({ instanceId: managed.instanceId, err: error }, "instance could not start");
      this.#report(managed, { status: InstanceStatus.Failed, reason, restartCount: 0, at: Date.now() });
      // Nothing runs from the folder yet: remove what was laid out, so a retry starts clean.
      rmSync(instanceDir, { recursive: true, force: true });
      this.#instances.delete(managed.instanceId);
    }
  }

  #report(managed: Managed, status: InstanceStatusEvent): void {
    managed.status = status.status;
    const command = reportCommand(managed, this.#deps.nodeId, status);
    const record = () => {
      managed.chain = managed.chain.then(() => this.#record(command));
    };
    // Inside the start span until Ready: the Starting and Ready events continue the StartInstance trace.
    if (managed.startSpan) managed.startSpan.within(record);
    else record();
    if (status.status === InstanceStatus.Ready || status.status === InstanceStatus.Failed || status.status === InstanceStatus.Stopped) {
      managed.startSpan?.end(status.status, status.reason ?? "");
    }
  }

  /** Writes one report through the lifecycle decider; never throws (a report that cannot be written is logged). */
  async #record(command: InstanceCommand): Promise<void> {
    try {
      await executeCommand({
        store: this.#deps.store,
        stream: instanceStream(command.instanceId),
        decider: instanceLifecycleDecider,
        command,
        source: this.#deps.source,
      });
    } catch (error) {
      if (error instanceof InstanceTransitionRefused && isLeavingService(error.from)) {
        // The log says this instance is leaving service (the deployer drained it while it was starting, or
        // someone declared it Failed): it must not serve or restart. Not awaited: stop() waits for this chain.
        this.#deps.logger.info(
          { instanceId: command.instanceId, refused: error.to, phase: error.from },
          "instance is leaving service; stopping it",
        );
        void this.stop(command.instanceId, LEAVING_SERVICE_GRACE_MS).catch((stopError: unknown) =>
          this.#deps.logger.error({ err: stopError, instanceId: command.instanceId }, "could not stop the instance"),
        );
        return;
      }
      this.#deps.logger.error({ err: error, command: command.type, instanceId: command.instanceId }, "could not record an instance event");
    }
  }

  #describe(m: Managed): AgentInstance {
    return {
      instanceId: m.instanceId,
      service: m.service,
      version: m.version,
      status: m.status,
      endpoint: m.endpoint,
      pid: m.running?.pid ?? 0,
      restartCount: m.running?.restartCount ?? 0,
      cpuPercent: 0,
      memoryBytes: 0,
    };
  }
}

/** Whether `promise` settles within `ms`; the timer never outlives the wait. */
async function settlesWithin(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => true,
      ),
      expired,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

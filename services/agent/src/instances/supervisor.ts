import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { ValidationError } from "@eas/decider";
import type { EventStore } from "@eas/event-store";
import { event, instanceStream, toNewEvent, type EasEvent } from "@eas/events";
import type { AgentInstance, ServiceSpec } from "@eas/proto";
import { freePort } from "@eas/testing";
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
import type { StorageFetcher } from "../storage/index.js";
import { killRecordedGroup, readPidRecord, writePidRecord } from "./pid-file.js";
import { startRequestViolations } from "./start-request.js";

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
}

/** Runs the instances the deployer places on this node and reports their lifecycle as events. */
export class InstanceSupervisor {
  readonly #deps: SupervisorDeps;
  readonly #instances = new Map<string, Managed>();

  constructor(deps: SupervisorDeps) {
    this.#deps = deps;
    mkdirSync(join(deps.nodeDir, "instances"), { recursive: true });
  }

  /**
   * Kills processes a previous run of this agent left behind (found through pid files) and reports
   * those instances Failed, also those that were still fetching their storage, so the deployer replaces
   * them: a restarted agent owns nothing it did not start.
   */
  async reapOrphans(): Promise<void> {
    const root = join(this.#deps.nodeDir, "instances");
    for (const instanceId of readdirSync(root)) {
      const dir = join(root, instanceId);
      const record = readPidRecord(dir);
      if (!record) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      const outcome = killRecordedGroup(record);
      if (outcome === "unusable-pid") {
        this.#deps.logger.error({ instanceId, pid: record.pid }, "pid.json holds no usable process id; killing nothing");
      } else if (outcome === "pid-reused") {
        this.#deps.logger.warn({ instanceId, pid: record.pid }, "the instance's pid was reused by another process; not killing it");
      } else if (outcome === "unverifiable") {
        this.#deps.logger.warn({ instanceId, pid: record.pid }, "pid.json has no start time to verify the pid with; not killing it");
      }
      await this.#append(
        event("InstanceFailed", {
          instanceId,
          service: record.service,
          reason: `agent on ${this.#deps.nodeId} restarted`,
          at: new Date().toISOString(),
        }),
      );
      rmSync(dir, { recursive: true, force: true });
      this.#deps.logger.warn({ instanceId, pid: record.pid }, "reaped an instance left by a previous agent run");
    }
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
   */
  start(instanceId: string, service: string, version: number, spec: ServiceSpec | undefined): AgentInstance {
    const violations = startRequestViolations(instanceId, spec, {
      repoRoot: this.#deps.repoRoot,
      instanceDir: join(this.#deps.nodeDir, "instances", instanceId),
    });
    if (violations.length > 0 || !spec) throw new ValidationError(violations);
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
    const at = new Date(status.at).toISOString();
    const { instanceId, service } = managed;
    const nodeId = this.#deps.nodeId;
    const reason = status.reason ?? "";
    let e: EasEvent;
    switch (status.status) {
      case InstanceStatus.Starting:
        e = event("InstanceStarting", { instanceId, service, nodeId, restartCount: status.restartCount, at });
        break;
      case InstanceStatus.Ready:
        e = event("InstanceReady", { instanceId, service, version: managed.version, nodeId, endpoint: managed.endpoint, at });
        break;
      case InstanceStatus.Unhealthy:
        e = event("InstanceUnhealthy", { instanceId, service, reason, at });
        break;
      case InstanceStatus.Exited:
        e = event("InstanceExited", {
          instanceId,
          service,
          exitCode: status.exitCode ?? -1,
          signal: status.signal ?? "",
          reason,
          restartCount: status.restartCount,
          at,
        });
        break;
      case InstanceStatus.Stopped:
        e = event("InstanceStopped", { instanceId, service, nodeId, reason: reason || "stopped", at });
        break;
      case InstanceStatus.Failed:
        e = event("InstanceFailed", { instanceId, service, reason, at });
        break;
    }
    managed.chain = managed.chain.then(() => this.#append(e));
  }

  async #append(e: EasEvent): Promise<void> {
    const data = e.data as { instanceId: string };
    // One id for every attempt: a retry after a lost acknowledgement is de-duplicated by the store.
    const stored = toNewEvent(e, randomUUID(), { source: this.#deps.source });
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#deps.store.append(instanceStream(data.instanceId), [stored], {
          expectedRevision: "any",
        });
        return;
      } catch (error) {
        if (attempt >= 5) {
          this.#deps.logger.error({ err: error, type: e.type }, "could not record an instance event");
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
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

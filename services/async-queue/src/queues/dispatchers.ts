import type { JetStreamClient } from "@nats-io/jetstream";
import type { Kvm } from "@nats-io/kv";
import { asyncQueueLayout } from "@eas/contracts";
import { InstancePhase, isRoutable } from "@eas/instance-lifecycle";
import { createKeyedMutex } from "@eas/service-kit";
import type { Logger } from "@eas/telemetry";
import { servingInstances, type AsyncServicesState, type QueuedService } from "../projections/async-services.js";
import { OutcomeStore } from "./outcome-store.js";
import { ServiceDispatcher, type DispatcherSettings } from "./service-dispatcher.js";
import type { QueueTopology } from "./topology.js";

/**
 * Keeps one {@link ServiceDispatcher} per async service in step with the `async-services` projection, and each
 * service's queue on JetStream in step with its settings (created, updated, removed with the service). Changes of
 * one service are applied in order, one at a time, always from the latest state.
 */
export class QueueDispatchers {
  readonly #js: JetStreamClient;
  readonly #kvm: Kvm;
  readonly #topology: QueueTopology;
  readonly #settings: DispatcherSettings;
  readonly #log: Logger;
  readonly #state: () => AsyncServicesState;
  readonly #dispatchers = new Map<string, ServiceDispatcher>();
  /** The queue settings each service's topology was last brought to. */
  readonly #ensured = new Map<string, string>();
  readonly #serial = createKeyedMutex();
  #stopped = false;

  constructor(options: {
    js: JetStreamClient;
    kvm: Kvm;
    topology: QueueTopology;
    settings: DispatcherSettings;
    logger: Logger;
    state: () => AsyncServicesState;
  }) {
    this.#js = options.js;
    this.#kvm = options.kvm;
    this.#topology = options.topology;
    this.#settings = options.settings;
    this.#log = options.logger;
    this.#state = options.state;
  }

  /** Every service of the state, and the removal of queues whose service is gone (at start, once caught up). */
  async syncAll(): Promise<void> {
    const state = this.#state();
    const existing = await this.#topology.existingServices();
    const names = new Set([...Object.keys(state), ...existing]);
    await Promise.all([...names].map((name) => this.sync(name)));
  }

  /** Brings service `name` in step with the latest state. */
  sync(name: string): Promise<void> {
    return this.#serial
      .run(name, () => this.#apply(name))
      .catch((error: unknown) => {
        this.#log.error(
          { service: name, err: error instanceof Error ? error.message : String(error) },
          "could not set up the queue; retrying in 2 s",
        );
        if (!this.#stopped) setTimeout(() => void this.sync(name), 2_000).unref();
      });
  }

  get(service: string): ServiceDispatcher | undefined {
    return this.#dispatchers.get(service);
  }

  services(): string[] {
    return [...this.#dispatchers.keys()];
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all([...this.#dispatchers.values()].map((dispatcher) => dispatcher.stop()));
    this.#dispatchers.clear();
  }

  async #apply(name: string): Promise<void> {
    if (this.#stopped) return;
    const service = this.#state()[name];
    const config = service?.async;
    if (!service || !config) {
      const dispatcher = this.#dispatchers.get(name);
      this.#dispatchers.delete(name);
      await dispatcher?.stop();
      // Deleted (or never async): nothing of its queue stays. A standard service never had one.
      if (!service && (dispatcher || this.#ensured.has(name) || (await this.#topology.existingServices()).has(name))) {
        await this.#topology.removeService(name);
        this.#log.info({ service: name }, "queue removed with its service");
      }
      this.#ensured.delete(name);
      return;
    }
    const wanted = JSON.stringify(config);
    if (this.#ensured.get(name) !== wanted) {
      await this.#topology.ensureService(name, config);
      this.#ensured.set(name, wanted);
      this.#log.info({ service: name, maxLength: config.maxLength, maxAttempts: config.maxAttempts }, "queue ready");
    }
    let dispatcher = this.#dispatchers.get(name);
    if (!dispatcher) {
      const layout = asyncQueueLayout(name);
      const results = await this.#kvm.open(layout.resultsBucket);
      dispatcher = new ServiceDispatcher(layout, this.#js, new OutcomeStore(results, this.#js, layout), config, this.#settings);
      this.#dispatchers.set(name, dispatcher);
    }
    const { ready, leaving } = targetsOf(service);
    dispatcher.update(config, service.concurrency, ready, leaving);
  }
}

/** The instances a service's requests go to, and for each other live instance whether its attempts may finish (undefined) or not (a reason). */
function targetsOf(service: QueuedService): { ready: { id: string; endpoint: string }[]; leaving: Map<string, string | undefined> } {
  const ready = service.stopped ? [] : servingInstances(service).map((i) => ({ id: i.instanceId, endpoint: i.endpoint }));
  const leaving = new Map<string, string | undefined>();
  for (const instance of Object.values(service.instances)) {
    if (isRoutable(instance) && !service.stopped) continue;
    const processGone = instance.phase === InstancePhase.Exited;
    leaving.set(instance.instanceId, processGone ? `${instance.phase}: ${instance.reason}` : undefined);
  }
  return { ready, leaving };
}

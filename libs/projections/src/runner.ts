import type { EventStore, RecordedEvent, Subscription } from "@eas/event-store";
import type { CheckpointStore, Projection } from "./projection.js";

/** The projection did not apply an event in time: the write happened, the read model lags behind. */
export class ProjectionLagError extends Error {
  readonly projection: string;
  readonly position: number;
  readonly retryable = true;
  constructor(projection: string, position: number, timeoutMs: number) {
    super(`projection ${projection} did not reach position ${position} within ${timeoutMs} ms`);
    this.name = "ProjectionLagError";
    this.projection = projection;
    this.position = position;
  }
}

export interface ProjectionRunnerOptions<State> {
  store: EventStore;
  projection: Projection<State>;
  checkpoints?: CheckpointStore;
  /** Save a checkpoint after this many events once caught up (and when the runner stops). Default 500. */
  checkpointEvery?: number;
  /** Called after each applied event, e.g. to notify listeners of a route change. */
  onEvent?: (event: RecordedEvent, state: State) => void;
  onError?: (error: unknown) => void;
}

/** Wait before following the log again after the subscription failed. */
const RESUBSCRIBE_DELAY_MS = 1_000;

export interface ProjectionStatus {
  name: string;
  position: number;
  caughtUp: boolean;
  eventsApplied: number;
}

/**
 * Runs one projection: loads its checkpoint, catches up from there, then follows the log live.
 * `caughtUp` resolves when every event stored at start has been applied.
 */
export interface ProjectionRunner<State> {
  readonly state: State;
  readonly position: number;
  readonly caughtUp: Promise<void>;
  isCaughtUp(): boolean;
  status(): ProjectionStatus;
  start(): Promise<void>;
  /** Resolves once the projection has applied the event at `position` (read-your-writes). */
  waitForPosition(position: number, timeoutMs?: number): Promise<void>;
  /** Drops the state and checkpoint, then replays the whole log. */
  rebuild(): Promise<void>;
  stop(): Promise<void>;
}

export function createProjectionRunner<State>(options: ProjectionRunnerOptions<State>): ProjectionRunner<State> {
  const { store, projection, checkpoints } = options;
  const checkpointEvery = options.checkpointEvery ?? 500;
  const categories = projection.categories ? new Set(projection.categories) : undefined;

  let state = projection.initialState();
  let position = 0;
  let eventsApplied = 0;
  let sinceCheckpoint = 0;
  let caughtUp = false;
  let subscription: Subscription | undefined;
  let loop: Promise<void> | undefined;
  let resolveCaughtUp!: () => void;
  let caughtUpPromise = new Promise<void>((resolve) => (resolveCaughtUp = resolve));
  const waiters: { position: number; resolve: () => void }[] = [];

  let caughtUpAt = Number.POSITIVE_INFINITY;
  const markCaughtUpIfThere = () => {
    if (caughtUp || position < caughtUpAt) return;
    caughtUp = true;
    resolveCaughtUp();
    void saveCheckpoint().catch((error: unknown) => options.onError?.(error));
  };

  const releaseWaiters = () => {
    for (let i = waiters.length - 1; i >= 0; i--) {
      const waiter = waiters[i]!;
      if (position >= waiter.position) {
        waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  };

  const saveCheckpoint = async () => {
    if (!checkpoints || sinceCheckpoint === 0) return;
    sinceCheckpoint = 0;
    const snapshot = projection.toSnapshot ? projection.toSnapshot(state) : state;
    await checkpoints.save(projection.name, { position, version: projection.version, snapshot });
  };

  const categoryOf = (stream: string) => {
    const dash = stream.indexOf("-");
    return dash < 0 ? stream : stream.slice(0, dash);
  };

  const follow = async (current: Subscription) => {
    for await (const event of current) {
      if (event.position <= position) continue;
      if (!categories || categories.has(categoryOf(event.stream))) {
        state = projection.evolve(state, event);
        options.onEvent?.(event, state);
      }
      position = event.position;
      eventsApplied++;
      sinceCheckpoint++;
      releaseWaiters();
      markCaughtUpIfThere();
      if (caughtUp && sinceCheckpoint >= checkpointEvery) {
        // A checkpoint is an optimisation: failing to save one must not stop the projection.
        await saveCheckpoint().catch((error: unknown) => options.onError?.(error));
      }
    }
  };

  let stopping = false;
  const subscribe = () => {
    const current = store.subscribeToAll({ afterPosition: position });
    subscription = current;
    loop = follow(current).catch(async (error: unknown) => {
      options.onError?.(error);
      if (stopping) return;
      // The projection is no longer current: readiness turns red until a new subscription has caught
      // up again from where this one stopped.
      caughtUp = false;
      await new Promise((resolve) => setTimeout(resolve, RESUBSCRIBE_DELAY_MS));
      if (stopping) return;
      caughtUpAt = await store.headPosition().catch(() => Number.POSITIVE_INFINITY);
      subscribe();
      markCaughtUpIfThere();
    });
  };

  const begin = async () => {
    const checkpoint = checkpoints ? await checkpoints.load(projection.name) : undefined;
    if (checkpoint && checkpoint.version === projection.version) {
      state = projection.fromSnapshot ? projection.fromSnapshot(checkpoint.snapshot) : (checkpoint.snapshot as State);
      position = checkpoint.position;
    }
    // Caught up = every event stored before we started is applied; measured against the head
    // position, so it does not depend on how an adapter buffers deliveries.
    const head = await store.headPosition();
    caughtUpAt = head;
    subscribe();
    markCaughtUpIfThere();
  };

  return {
    get state() {
      return state;
    },
    get position() {
      return position;
    },
    get caughtUp() {
      return caughtUpPromise;
    },
    isCaughtUp: () => caughtUp,
    status: () => ({ name: projection.name, position, caughtUp, eventsApplied }),
    start: begin,
    waitForPosition(target, timeoutMs = 10_000) {
      if (position >= target) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          const index = waiters.indexOf(waiter);
          if (index >= 0) waiters.splice(index, 1);
          reject(new ProjectionLagError(projection.name, target, timeoutMs));
        }, timeoutMs);
        const waiter = {
          position: target,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        };
        waiters.push(waiter);
      });
    },
    async rebuild() {
      await subscription?.close();
      await loop;
      await checkpoints?.clear(projection.name);
      state = projection.initialState();
      position = 0;
      eventsApplied = 0;
      sinceCheckpoint = 0;
      caughtUp = false;
      caughtUpAt = Number.POSITIVE_INFINITY;
      caughtUpPromise = new Promise<void>((resolve) => (resolveCaughtUp = resolve));
      await begin();
    },
    async stop() {
      stopping = true;
      await subscription?.close();
      await loop;
      await saveCheckpoint().catch((error: unknown) => options.onError?.(error));
    },
  };
}

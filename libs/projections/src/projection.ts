import type { RecordedEvent } from "@eas/event-store";

/**
 * A read model: a pure fold of the event log. `version` names the shape of the
 * state; a snapshot written by another version is ignored and the projection rebuilds from zero.
 */
export interface Projection<State> {
  readonly name: string;
  readonly version: number;
  /** Only events of these stream categories reach evolve; all when omitted. */
  readonly categories?: readonly string[];
  initialState(): State;
  /**
   * Folds one event into the state. It may update `state` in place and return it (the runner owns
   * the state), but must not depend on anything but its arguments.
   */
  evolve(state: State, event: RecordedEvent): State;
  /** JSON form of the state for a snapshot; defaults to the state itself. */
  toSnapshot?(state: State): unknown;
  fromSnapshot?(snapshot: unknown): State;
}

/** Where a runner keeps its checkpoint (log position) together with a snapshot of the state at that position. */
export interface CheckpointStore {
  load(projection: string): Promise<Checkpoint | undefined>;
  save(projection: string, checkpoint: Checkpoint): Promise<void>;
  clear(projection: string): Promise<void>;
}

export interface Checkpoint {
  position: number;
  version: number;
  snapshot: unknown;
}

/** Keeps checkpoints in memory; for tests and projections that can always afford a full replay. */
export class InMemoryCheckpointStore implements CheckpointStore {
  readonly #checkpoints = new Map<string, Checkpoint>();
  async load(projection: string): Promise<Checkpoint | undefined> {
    // A copy: a projection may update its state in place, which must not change the stored snapshot.
    const checkpoint = this.#checkpoints.get(projection);
    return checkpoint && structuredClone(checkpoint);
  }
  async save(projection: string, checkpoint: Checkpoint): Promise<void> {
    this.#checkpoints.set(projection, structuredClone(checkpoint));
  }
  async clear(projection: string): Promise<void> {
    this.#checkpoints.delete(projection);
  }
}
